// Independent check of `moepp bandwidth` (BENCHMARKS.md, "An honest roofline"): read-only kernels
// and STREAM copy/triad over a huge-page buffer, variants interleaved, best of ROUNDS passes.
// Build: gcc -O3 -march=native -pthread Scripts/bandwidth-check.c -o /tmp/bandwidth-check
// Run:   /tmp/bandwidth-check THREADS MIB ROUNDS HUGE(0|1)   e.g. 2 1024 5 1
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <stdint.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct { const char *p; size_t n; int variant; double sink; float *a,*b,*c; size_t cn; } job;
static pthread_barrier_t bar;
static double read1(const char*p,size_t n){ // one stream, 4 accumulators
  __m512i a=_mm512_setzero_si512(),b=a,c=a,d=a;
  for(size_t i=0;i<n;i+=256){a=_mm512_add_epi64(a,_mm512_load_si512(p+i));b=_mm512_add_epi64(b,_mm512_load_si512(p+i+64));
    c=_mm512_add_epi64(c,_mm512_load_si512(p+i+128));d=_mm512_add_epi64(d,_mm512_load_si512(p+i+192));}
  return (double)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a,b),_mm512_add_epi64(c,d)));}
static double read1pf(const char*p,size_t n){ // one stream + prefetch 4 KiB ahead
  __m512i a=_mm512_setzero_si512(),b=a,c=a,d=a;
  for(size_t i=0;i<n;i+=256){_mm_prefetch(p+i+4096,_MM_HINT_T0);_mm_prefetch(p+i+4096+128,_MM_HINT_T0);
    a=_mm512_add_epi64(a,_mm512_load_si512(p+i));b=_mm512_add_epi64(b,_mm512_load_si512(p+i+64));
    c=_mm512_add_epi64(c,_mm512_load_si512(p+i+128));d=_mm512_add_epi64(d,_mm512_load_si512(p+i+192));}
  return (double)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a,b),_mm512_add_epi64(c,d)));}
static double read4(const char*p,size_t n){ // 4 streams (quarters)
  size_t q=n/4; const char*p0=p,*p1=p+q,*p2=p+2*q,*p3=p+3*q;
  __m512i a=_mm512_setzero_si512(),b=a,c=a,d=a;
  for(size_t i=0;i<q;i+=128){
    a=_mm512_add_epi64(a,_mm512_add_epi64(_mm512_load_si512(p0+i),_mm512_load_si512(p0+i+64)));
    b=_mm512_add_epi64(b,_mm512_add_epi64(_mm512_load_si512(p1+i),_mm512_load_si512(p1+i+64)));
    c=_mm512_add_epi64(c,_mm512_add_epi64(_mm512_load_si512(p2+i),_mm512_load_si512(p2+i+64)));
    d=_mm512_add_epi64(d,_mm512_add_epi64(_mm512_load_si512(p3+i),_mm512_load_si512(p3+i+64)));}
  return (double)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a,b),_mm512_add_epi64(c,d)));}
static double read4pf(const char*p,size_t n){
  size_t q=n/4; const char*p0=p,*p1=p+q,*p2=p+2*q,*p3=p+3*q;
  __m512i a=_mm512_setzero_si512(),b=a,c=a,d=a;
  for(size_t i=0;i<q;i+=128){
    _mm_prefetch(p0+i+2048,_MM_HINT_T0);_mm_prefetch(p1+i+2048,_MM_HINT_T0);_mm_prefetch(p2+i+2048,_MM_HINT_T0);_mm_prefetch(p3+i+2048,_MM_HINT_T0);
    a=_mm512_add_epi64(a,_mm512_add_epi64(_mm512_load_si512(p0+i),_mm512_load_si512(p0+i+64)));
    b=_mm512_add_epi64(b,_mm512_add_epi64(_mm512_load_si512(p1+i),_mm512_load_si512(p1+i+64)));
    c=_mm512_add_epi64(c,_mm512_add_epi64(_mm512_load_si512(p2+i),_mm512_load_si512(p2+i+64)));
    d=_mm512_add_epi64(d,_mm512_add_epi64(_mm512_load_si512(p3+i),_mm512_load_si512(p3+i+64)));}
  return (double)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a,b),_mm512_add_epi64(c,d)));}
static double read_avx2(const char*p,size_t n){ __m256i a=_mm256_setzero_si256(),b=a,c=a,d=a;
  for(size_t i=0;i<n;i+=128){a=_mm256_add_epi64(a,_mm256_load_si256((const __m256i*)(p+i)));b=_mm256_add_epi64(b,_mm256_load_si256((const __m256i*)(p+i+32)));
   c=_mm256_add_epi64(c,_mm256_load_si256((const __m256i*)(p+i+64)));d=_mm256_add_epi64(d,_mm256_load_si256((const __m256i*)(p+i+96)));}
  a=_mm256_add_epi64(_mm256_add_epi64(a,b),_mm256_add_epi64(c,d)); long long t[4]; memcpy(t,&a,32); return t[0]+t[1]+t[2]+t[3];}
static const char *names[]={"read 1 stream avx512","read 1 stream +prefetch","read 4 streams","read 4 streams +prefetch","read avx2","stream copy","stream triad"};
static void *worker(void*v){ job*j=v; pthread_barrier_wait(&bar);
  switch(j->variant){case 0:j->sink=read1(j->p,j->n);break;case 1:j->sink=read1pf(j->p,j->n);break;case 2:j->sink=read4(j->p,j->n);break;
   case 3:j->sink=read4pf(j->p,j->n);break;case 4:j->sink=read_avx2(j->p,j->n);break;
   case 5: for(size_t i=0;i<j->cn;i++) j->c[i]=j->a[i]; break;
   case 6: for(size_t i=0;i<j->cn;i++) j->c[i]=j->a[i]+3.0f*j->b[i]; break;}
  pthread_barrier_wait(&bar); return 0;}
int main(int argc,char**argv){ int T=argc>1?atoi(argv[1]):2; if(T<1)T=1; if(T>8)T=8; /* js/th hold 8 */ size_t MB=argc>2?atol(argv[2]):1024; int rounds=argc>3?atoi(argv[3]):5; int huge=argc>4?atoi(argv[4]):1;
  size_t n=MB<<20; char*buf=mmap(0,n,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); if(huge) madvise(buf,n,MADV_HUGEPAGE); else madvise(buf,n,MADV_NOHUGEPAGE);
  for(size_t i=0;i<n;i+=8) *(uint64_t*)(buf+i)=i;
  size_t cn=(n/3)/4/T/64*64; float*A=(float*)buf; 
  size_t slice=n/T/512*512; // whole 512-byte steps, 64-byte aligned starts
  pthread_barrier_init(&bar,0,T+1); double best[7]={0};
  for(int r=0;r<rounds;r++) for(int v=0;v<7;v++){ job js[8]; pthread_t th[8];
    for(int t=0;t<T;t++){ js[t]=(job){buf+t*slice,slice,v,0,A+t*cn,A+T*cn+t*cn,A+2*T*cn+t*cn,cn}; pthread_create(&th[t],0,worker,&js[t]);}
    pthread_barrier_wait(&bar); double t0=now(); pthread_barrier_wait(&bar); double dt=now()-t0;
    for(int t=0;t<T;t++) pthread_join(th[t],0);
    double bytes = v<5 ? (double)slice*T : (v==5? 2.0*cn*4*T : 3.0*cn*4*T); // STREAM convention (no write-allocate)
    double gb=bytes/dt/1e9; if(gb>best[v]) best[v]=gb; printf("r%d %-26s %.2f GB/s\n",r,names[v],gb); }
  for(int v=0;v<7;v++) printf("best %-26s %.2f GB/s\n",names[v],best[v]); return 0;}

// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). Used for the prompt-batch and training GEMMs.
#include <cblas.h>
// Limits OpenBLAS's own thread pool; we parallelise matrix-vector work ourselves.
void openblas_set_num_threads(int num_threads);

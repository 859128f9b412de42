"""The environment variables that set the thread pools of OpenMP, MKL and OpenBLAS. Read by numpy
and torch when they are first imported, so they are set before that; this module imports nothing
heavy, so the test suite's conftest can use it before numpy loads."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

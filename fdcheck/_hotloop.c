/* The plain mode's hot loop in C: per point, one scalar write, one call of the
 * user's function, one copy of its output, one scalar write to restore.
 *
 * The Python loop in fdcheck/evaluate.py does the same and stays the reference
 * (and the fallback where this module was not built). Here the interpreter's
 * work per call is gone: storing a small output through NumPy's __setitem__
 * costs more than calling a cheap function, and that was most of fdcheck's
 * overhead over a bare loop of 2n calls.
 *
 * Only the common case is handled here: a C-contiguous float64 (or float32)
 * NumPy array of exactly the expected shape, or a Python/NumPy float for a
 * scalar output. Anything else (another dtype, a strided view, a subclass, a
 * wrong shape) goes to the caller's `store(j, y)`, which checks and stores it
 * or raises the error that names what was wrong.
 *
 * `halves` serves the vectorized mode: the scaled difference of a stack of
 * upper then lower outputs and its finiteness in one pass, where NumPy takes
 * three (subtract, multiply, check) and a call's fixed cost for each.
 * `steps` and `central` do fdcheck.step's arithmetic in one pass for the
 * same reason: on a small input, NumPy's cost per call was most of it.
 *
 * A Jacobian larger than the cache costs more to difference and write into
 * fresh memory (page faults, misses) than a tenth of the calls that make it.
 * With `behind`, `differences` keeps the outputs of the last rows in a ring
 * of slots (one per two rows of `scratch`) and a second thread differences
 * them into `dest` while the calls go on. That thread runs no Python and
 * touches no Python object, so it needs no GIL: it reads outputs that this
 * thread holds and releases.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifndef _WIN32
#include <pthread.h>
#define WRITE_BEHIND 1
#endif
#ifdef _MSC_VER
#define RESTRICT __restrict  /* MSVC's C takes C99's keyword only under /std:c11 */
#else
#define RESTRICT restrict
#endif

static int
is_vector(PyArrayObject *a, int type, int writable)
{
    return PyArray_NDIM(a) == 1 && PyArray_TYPE(a) == type && PyArray_IS_C_CONTIGUOUS(a)
           && PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a)
           && (!writable || PyArray_ISWRITEABLE(a));
}

/* The dtype of the working point x (writable) and x0, contiguous vectors of one
 * float dtype and one length; -1 with an exception set otherwise. */
static int
point_type(PyArrayObject *x, PyArrayObject *x0)
{
    int type = PyArray_TYPE(x);
    if ((type != NPY_DOUBLE && type != NPY_FLOAT) || !is_vector(x, type, 1)
        || !is_vector(x0, type, 0) || PyArray_SIZE(x0) != PyArray_SIZE(x)) {
        PyErr_SetString(PyExc_TypeError,
                        "x (writable) and x0: contiguous float64 or float32 vectors alike");
        return -1;
    }
    return type;
}

/* A writable C-contiguous float64 matrix of at least `rows` rows and m columns. */
static int
is_matrix(PyArrayObject *a, npy_intp rows, npy_intp m)
{
    return PyArray_NDIM(a) == 2 && PyArray_TYPE(a) == NPY_DOUBLE && PyArray_IS_C_CONTIGUOUS(a)
           && PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a) && PyArray_ISWRITEABLE(a)
           && PyArray_DIM(a, 0) >= rows && PyArray_DIM(a, 1) == m;
}

/* The output shape from a tuple of ints into shape[]; returns its size, or -1
 * with an exception set. */
static npy_intp
parse_shape(PyObject *shape_obj, npy_intp *shape, int *ndim)
{
    *ndim = (int)PyTuple_GET_SIZE(shape_obj);
    if (*ndim > NPY_MAXDIMS) {
        PyErr_SetString(PyExc_ValueError, "too many output dimensions");
        return -1;
    }
    npy_intp m = 1;
    for (int d = 0; d < *ndim; d++) {
        shape[d] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape_obj, d));
        if (shape[d] < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "negative output dimension");
            }
            return -1;
        }
        m *= shape[d];
    }
    return m;
}

/* 1 when y was stored in row, 0 when the caller's store must handle it. */
static int
store_fast(PyObject *y, double *row, npy_intp m, const npy_intp *shape, int ndim)
{
    if (PyArray_CheckExact(y)) {
        PyArrayObject *a = (PyArrayObject *)y;
        if (PyArray_NDIM(a) != ndim || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a)
            || !PyArray_ISNOTSWAPPED(a)) {
            return 0;
        }
        const npy_intp *dims = PyArray_DIMS(a);
        for (int d = 0; d < ndim; d++) {
            if (dims[d] != shape[d]) {
                return 0;
            }
        }
        if (PyArray_TYPE(a) == NPY_DOUBLE) {
            memcpy(row, PyArray_DATA(a), (size_t)m * sizeof(double));
            return 1;
        }
        if (PyArray_TYPE(a) == NPY_FLOAT) {
            const float *src = (const float *)PyArray_DATA(a);
            for (npy_intp k = 0; k < m; k++) {
                row[k] = (double)src[k];
            }
            return 1;
        }
        return 0;
    }
    /* numpy.float64 subclasses float: np.sum(...) lands here. */
    if (ndim == 0 && PyFloat_Check(y)) {
        row[0] = PyFloat_AS_DOUBLE(y);
        return 1;
    }
    return 0;
}

/* The data of y when it is a float64 array C-contiguous in exactly `shape`
 * (read in place, without a copy); else NULL. */
static const double *
direct_data(PyObject *y, const npy_intp *shape, int ndim)
{
    if (!PyArray_CheckExact(y)) {
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)y;
    if (PyArray_TYPE(a) != NPY_DOUBLE || PyArray_NDIM(a) != ndim || !PyArray_IS_C_CONTIGUOUS(a)
        || !PyArray_ISALIGNED(a) || !PyArray_ISNOTSWAPPED(a)) {
        return NULL;
    }
    const npy_intp *dims = PyArray_DIMS(a);
    for (int d = 0; d < ndim; d++) {
        if (dims[d] != shape[d]) {
            return NULL;
        }
    }
    return (const double *)PyArray_DATA(a);
}

/* 1 when nothing but our reference can reach y's memory: a fresh array that
 * owns its data, so the next call cannot change it (a view of x, or a buffer
 * the function reuses, could). */
static int
private_array(PyObject *y)
{
    return Py_REFCNT(y) == 1 && PyArray_CHKFLAGS((PyArrayObject *)y, NPY_ARRAY_OWNDATA)
           && PyArray_BASE((PyArrayObject *)y) == NULL;
}

/* row = (upper - lower) * s; 1 when every entry is finite. An entry is not
 * finite when its exponent bits are all ones, and only then does adding one
 * to the exponent carry into the sign bit: an integer OR of those sums, which
 * the compiler vectorizes with the arithmetic. (isfinite() or a comparison
 * kept the loop scalar, at twice the time of NumPy's subtract alone.) */
static int
difference_row(double *RESTRICT row, const double *RESTRICT upper,
               const double *RESTRICT lower, double s, npy_intp m)
{
    const uint64_t exponent = 0x7ff0000000000000ULL, one = 0x0010000000000000ULL;
    uint64_t carries = 0;
    for (npy_intp c = 0; c < m; c++) {
        double d = (upper[c] - lower[c]) * s;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        row[c] = d;
        carries |= (bits & exponent) + one;
    }
    return (carries >> 63) == 0;
}

/* j appended to the list `bad`; 0, or -1 with an exception set. */
static int
append_row(PyObject *bad, npy_intp j)
{
    PyObject *row = PyLong_FromSsize_t(j);
    if (row == NULL || PyList_Append(bad, row) < 0) {
        Py_XDECREF(row);
        return -1;
    }
    Py_DECREF(row);
    return 0;
}

static PyObject *
halves(PyObject *self, PyObject *args)
{
    PyArrayObject *ys, *scale, *dest;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyArray_Type, &ys, &PyArray_Type, &scale,
                          &PyArray_Type, &dest)) {
        return NULL;
    }
    npy_intp k = PyArray_SIZE(scale);
    npy_intp m = PyArray_NDIM(dest) == 2 ? PyArray_DIM(dest, 1) : -1;
    if (!is_vector(scale, NPY_DOUBLE, 0) || !is_matrix(dest, k, m) || PyArray_DIM(dest, 0) != k
        || PyArray_NDIM(ys) != 2 || PyArray_TYPE(ys) != NPY_DOUBLE
        || !PyArray_IS_C_CONTIGUOUS(ys) || !PyArray_ISALIGNED(ys) || !PyArray_ISNOTSWAPPED(ys)
        || PyArray_DIM(ys, 0) != 2 * k || PyArray_DIM(ys, 1) != m) {
        PyErr_SetString(PyExc_TypeError, "ys (2k, m), dest (k, m) writable: C-contiguous "
                        "float64; scale: a float64 vector of k");
        return NULL;
    }
    const double *y = (const double *)PyArray_DATA(ys);
    const double *s = (const double *)PyArray_DATA(scale);
    double *d = (double *)PyArray_DATA(dest);
    PyObject *bad = PyList_New(0);
    if (bad == NULL) {
        return NULL;
    }
    for (npy_intp j = 0; j < k; j++) {
        if (!difference_row(d + j * m, y + j * m, y + (k + j) * m, s[j], m)
            && append_row(bad, j) < 0) {
            Py_DECREF(bad);
            return NULL;
        }
    }
    return bad;
}

static PyObject *
points(PyObject *self, PyObject *args)
{
    PyObject *call, *call_args, *shape_obj, *store;
    PyArrayObject *x, *x0, *indices, *values, *out;
    int fast;
    if (!PyArg_ParseTuple(args, "OO!O!O!O!O!O!O!pO", &call, &PyTuple_Type, &call_args,
                          &PyArray_Type, &x, &PyArray_Type, &x0, &PyArray_Type, &indices,
                          &PyArray_Type, &values, &PyArray_Type, &out, &PyTuple_Type, &shape_obj,
                          &fast, &store)) {
        return NULL;
    }
    int type = point_type(x, x0);
    if (type < 0) {
        return NULL;
    }
    npy_intp n = PyArray_SIZE(x), k = PyArray_SIZE(indices);
    if (!is_vector(indices, NPY_INT64, 0) || !is_vector(values, type, 0)
        || PyArray_SIZE(values) != k) {
        PyErr_SetString(PyExc_TypeError,
                        "values: a contiguous vector of x's dtype; indices: int64 of its length");
        return NULL;
    }
    npy_intp shape[NPY_MAXDIMS];
    int ndim;
    npy_intp m = parse_shape(shape_obj, shape, &ndim);
    if (m < 0) {
        return NULL;
    }
    if (!is_matrix(out, k, m)) {
        PyErr_SetString(PyExc_TypeError, "out must be a writable C-contiguous float64 (>= k, m) array");
        return NULL;
    }

    size_t size = (size_t)PyArray_ITEMSIZE(x);
    char *xp = PyArray_BYTES(x);
    const char *x0p = PyArray_BYTES(x0);
    const char *vp = PyArray_BYTES(values);
    const npy_int64 *ip = (const npy_int64 *)PyArray_DATA(indices);
    double *outp = (double *)PyArray_DATA(out);

    PyObject *const *argv = &PyTuple_GET_ITEM(call_args, 0);
    size_t nargs = (size_t)PyTuple_GET_SIZE(call_args);
    for (npy_intp j = 0; j < k; j++) {
        npy_int64 i = ip[j];
        if (i < 0 || i >= n) {
            PyErr_Format(PyExc_IndexError, "element %lld is outside the input of %zd elements",
                         (long long)i, n);
            return NULL;
        }
        memcpy(xp + i * size, vp + j * size, size);
        PyObject *y = PyObject_Vectorcall(call, argv, nargs, NULL);
        if (y != NULL && !(fast && store_fast(y, outp + j * m, m, shape, ndim))) {
            /* Stored before x is restored: y may be a view of x (X.T). */
            PyObject *done = PyObject_CallFunction(store, "nO", j, y);
            Py_DECREF(y);
            y = done;
        }
        memcpy(xp + i * size, x0p + i * size, size);
        if (y == NULL) {
            return NULL;
        }
        Py_DECREF(y);
    }
    Py_RETURN_NONE;
}

/* The rows of one call of `differences` between their two calls and their
 * difference. Row j waits in slot j % size: its outputs' data, the arrays
 * holding that data (references owned by the slot, released only by the
 * caller's thread, the one that holds the GIL), and its scale.
 *
 * Without a second thread each row is differenced as soon as its two outputs
 * are in. With one (`threaded`), the caller's thread only calls the function
 * and fills slots, and the other differences the finished rows into dest:
 * `made` and `differenced` count rows, published under the lock every `batch`
 * rows, so that neither thread wakes the other for every row. */
typedef struct {
    const double *side[2];
    PyObject *held[2];
    double scale;
} Slot;

typedef struct {
    Slot *slots;
    npy_intp size, m;
    double *dest;
    unsigned char *finite;  /* per row, written by whoever differences it */
    int threaded;
#ifdef WRITE_BEHIND
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t thread;
    npy_intp batch, made, differenced;
    npy_intp seen;  /* `differenced` as the caller's thread last read it, under the lock */
    int done;
#endif
} Ring;

static void
difference_slot(Ring *g, npy_intp j)
{
    const Slot *s = &g->slots[j % g->size];
    g->finite[j] = (unsigned char)difference_row(g->dest + j * g->m, s->side[0], s->side[1],
                                                 s->scale, g->m);
}

#ifdef WRITE_BEHIND
static void *
difference_behind(void *arg)
{
    Ring *g = arg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        while (g->differenced == g->made && !g->done) {
            pthread_cond_wait(&g->changed, &g->lock);
        }
        npy_intp from = g->differenced, to = g->made;
        if (from == to) {
            break;
        }
        pthread_mutex_unlock(&g->lock);
        for (npy_intp j = from; j < to; j++) {
            difference_slot(g, j);
        }
        pthread_mutex_lock(&g->lock);
        g->differenced = to;
        pthread_cond_signal(&g->changed);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Rows before `made` are filled; handed over every `batch` rows, or now. */
static void
publish(Ring *g, npy_intp made, int now, int last)
{
    if (!now && made % g->batch) {
        return;
    }
    pthread_mutex_lock(&g->lock);
    g->made = made;
    g->done = last;
    pthread_cond_signal(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

static int
start_thread(Ring *g)
{
    g->batch = g->size / 4 > 0 ? g->size / 4 : 1;
    g->made = g->differenced = g->seen = 0;
    g->done = 0;
    if (pthread_mutex_init(&g->lock, NULL) != 0) {
        return 0;
    }
    if (pthread_cond_init(&g->changed, NULL) != 0) {
        pthread_mutex_destroy(&g->lock);
        return 0;
    }
    if (pthread_create(&g->thread, NULL, difference_behind, g) != 0) {
        pthread_cond_destroy(&g->changed);
        pthread_mutex_destroy(&g->lock);
        return 0;
    }
#ifdef __linux__
    /* Named from here, at once: top -H, a debugger and the tests tell it from
     * the other threads of the process (BLAS's, another library's). */
    pthread_setname_np(g->thread, "fdcheck-ring");
#endif
    return 1;
}
#endif

/* 0, or -1 with MemoryError set. A second thread only if asked, there are
 * two slots or more, and it starts; otherwise the rows are differenced inline. */
static int
ring_start(Ring *g, double *dest, npy_intp k, npy_intp m, npy_intp size, int behind)
{
    g->slots = PyMem_Calloc((size_t)size, sizeof(Slot));
    g->finite = PyMem_Malloc(k > 0 ? (size_t)k : 1);
    if (g->slots == NULL || g->finite == NULL) {
        PyMem_Free(g->slots);
        PyMem_Free(g->finite);
        PyErr_NoMemory();
        return -1;
    }
    g->size = size;
    g->m = m;
    g->dest = dest;
    g->threaded = 0;
#ifdef WRITE_BEHIND
    g->threaded = behind && size > 1 && start_thread(g);
#else
    (void)behind;
#endif
    return 0;
}

/* The slot for row j, once the row that used it is differenced, emptied. */
static Slot *
ring_slot(Ring *g, npy_intp j)
{
#ifdef WRITE_BEHIND
    if (g->threaded && j - g->seen >= g->size) {
        pthread_mutex_lock(&g->lock);
        if (g->made < j) {  /* the other thread may be waiting for these rows */
            g->made = j;
            pthread_cond_signal(&g->changed);
        }
        while (j - g->differenced >= g->size) {
            pthread_cond_wait(&g->changed, &g->lock);
        }
        g->seen = g->differenced;
        pthread_mutex_unlock(&g->lock);
    }
#endif
    Slot *s = &g->slots[j % g->size];
    Py_CLEAR(s->held[0]);
    Py_CLEAR(s->held[1]);
    return s;
}

/* Row j's slot is filled: difference it now, or hand it over. */
static void
ring_filled(Ring *g, npy_intp j)
{
#ifdef WRITE_BEHIND
    if (g->threaded) {
        publish(g, j + 1, 0, 0);
        return;
    }
#endif
    difference_slot(g, j);
}

/* Every filled row differenced, the thread (if any) joined, the slots
 * emptied; with `bad`, the rows before `made` that are not finite appended. */
static int
ring_finish(Ring *g, npy_intp made, PyObject *bad)
{
#ifdef WRITE_BEHIND
    if (g->threaded) {
        publish(g, made, 1, 1);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(g->thread, NULL);
        Py_END_ALLOW_THREADS
        pthread_cond_destroy(&g->changed);
        pthread_mutex_destroy(&g->lock);
    }
#endif
    for (npy_intp q = 0; q < g->size; q++) {
        Py_CLEAR(g->slots[q].held[0]);
        Py_CLEAR(g->slots[q].held[1]);
    }
    int status = 0;
    for (npy_intp j = 0; bad != NULL && j < made; j++) {
        if (!g->finite[j] && append_row(bad, j) < 0) {
            status = -1;
            break;
        }
    }
    PyMem_Free(g->slots);
    PyMem_Free(g->finite);
    return status;
}

/* The central difference of order 2 in one pass: for each element i = start + j,
 * the two calls, then dest[j] = (f(upper) - f(lower)) * scale[j] and a check that
 * the row is finite, in line while both outputs are in cache or by the ring's
 * second thread. Returns the list of j whose row holds a non-finite entry.
 * Outputs that cannot be read in place are copied to the slot's rows of
 * `scratch` (2 per slot), by store(q, y) where the fast path cannot. */
static PyObject *
differences(PyObject *self, PyObject *args)
{
    PyObject *call, *call_args, *shape_obj, *store;
    PyArrayObject *x, *x0, *upper, *lower, *scale, *dest, *scratch;
    Py_ssize_t start;
    int fast, behind = 0;
    if (!PyArg_ParseTuple(args, "OO!O!O!nO!O!O!O!O!pOO!|p", &call, &PyTuple_Type, &call_args,
                          &PyArray_Type, &x, &PyArray_Type, &x0, &start,
                          &PyArray_Type, &upper, &PyArray_Type, &lower, &PyArray_Type, &scale,
                          &PyArray_Type, &dest, &PyTuple_Type, &shape_obj, &fast, &store,
                          &PyArray_Type, &scratch, &behind)) {
        return NULL;
    }
    int type = point_type(x, x0);
    if (type < 0) {
        return NULL;
    }
    npy_intp n = PyArray_SIZE(x), k = PyArray_SIZE(upper);
    if (!is_vector(upper, type, 0) || !is_vector(lower, type, 0)
        || !is_vector(scale, NPY_DOUBLE, 0) || PyArray_SIZE(lower) != k
        || PyArray_SIZE(scale) != k) {
        PyErr_SetString(PyExc_TypeError, "upper, lower: contiguous vectors of x's dtype; "
                        "scale: float64; all three of one length");
        return NULL;
    }
    if (start < 0 || start > n - k) {
        PyErr_Format(PyExc_IndexError, "elements %zd to %zd are outside the input of %zd elements",
                     start, start + k, n);
        return NULL;
    }
    npy_intp shape[NPY_MAXDIMS];
    int ndim;
    npy_intp m = parse_shape(shape_obj, shape, &ndim);
    if (m < 0) {
        return NULL;
    }
    npy_intp slots = PyArray_NDIM(scratch) == 2 ? PyArray_DIM(scratch, 0) / 2 : 0;
    if (!is_matrix(dest, k, m) || slots < 1 || !is_matrix(scratch, 2 * slots, m)) {
        PyErr_SetString(PyExc_TypeError, "dest (>= k, m) and scratch (2 s, m), s >= 1 slots: "
                        "writable C-contiguous float64");
        return NULL;
    }
    PyObject *bad = PyList_New(0);
    if (bad == NULL) {
        return NULL;
    }
    Ring ring;
    if (ring_start(&ring, (double *)PyArray_DATA(dest), k, m, slots, behind) < 0) {
        Py_DECREF(bad);
        return NULL;
    }
    size_t size = (size_t)PyArray_ITEMSIZE(x);
    char *xp = PyArray_BYTES(x);
    const char *x0p = PyArray_BYTES(x0);
    const char *points[2] = {PyArray_BYTES(upper), PyArray_BYTES(lower)};
    const double *sp = (const double *)PyArray_DATA(scale);
    double *tmp = (double *)PyArray_DATA(scratch);
    PyObject *const *argv = &PyTuple_GET_ITEM(call_args, 0);
    size_t nargs = (size_t)PyTuple_GET_SIZE(call_args);
    npy_intp j = 0;
    for (; j < k; j++) {
        npy_intp i = start + j;
        Slot *slot = ring_slot(&ring, j);
        slot->scale = sp[j];
        /* An output is held and read in place when nothing else can change it
         * before it is differenced: an array no one else sees, or the lower
         * output differenced inline before x is restored (even a view of x,
         * X.T, then holds the values of that point). Otherwise it is copied
         * into the slot's rows of scratch. */
        for (int r = 0; r < 2; r++) {
            memcpy(xp + i * size, points[r] + j * size, size);
            PyObject *y = PyObject_Vectorcall(call, argv, nargs, NULL);
            if (y == NULL) {
                goto fail;
            }
            const double *data = fast ? direct_data(y, shape, ndim) : NULL;
            if (data != NULL && (private_array(y) || (r == 1 && !ring.threaded))) {
                slot->side[r] = data;
                slot->held[r] = y;
                continue;
            }
            npy_intp row = 2 * (j % slots) + r;
            slot->side[r] = tmp + row * m;
            if (!(fast && store_fast(y, tmp + row * m, m, shape, ndim))) {
                PyObject *done = PyObject_CallFunction(store, "nO", row, y);
                if (done == NULL) {
                    Py_DECREF(y);
                    goto fail;
                }
                Py_DECREF(done);
            }
            Py_DECREF(y);
        }
        ring_filled(&ring, j);
        memcpy(xp + i * size, x0p + i * size, size);
    }
    if (ring_finish(&ring, k, bad) < 0) {
        Py_DECREF(bad);
        return NULL;
    }
    return bad;
fail:
    memcpy(xp + (start + j) * size, x0p + (start + j) * size, size);
    ring_finish(&ring, j, NULL);
    Py_DECREF(bad);
    return NULL;
}

static PyObject *
steps(PyObject *self, PyObject *args)
{
    PyArrayObject *x;
    double rel;
    if (!PyArg_ParseTuple(args, "O!d", &PyArray_Type, &x, &rel)) {
        return NULL;
    }
    if (!is_vector(x, NPY_DOUBLE, 0)) {
        Py_RETURN_NONE;
    }
    npy_intp n = PyArray_SIZE(x);
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_DOUBLE);
    if (out == NULL) {
        return NULL;
    }
    const double *xp = (const double *)PyArray_DATA(x);
    double *h = (double *)PyArray_DATA(out);
    int positive = 1;
    for (npy_intp i = 0; i < n; i++) {
        double a = fabs(xp[i]);
        /* volatile: the sum must round as NumPy's does, never fused with the
         * product into one multiply-add. */
        volatile double w = rel * (a > 1.0 ? a : 1.0);
        double t = (xp[i] + w) - xp[i];
        h[i] = t;
        positive &= t > 0.0;
    }
    if (!positive) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return (PyObject *)out;
}

/* The points of a central difference of order 2 and their scale: x + h and
 * x - h, rounded to x's dtype, and weight / h, as fdcheck.step.central_points
 * computes them in NumPy (the same operations, so the same bits). */
static PyObject *
central(PyObject *self, PyObject *args)
{
    PyArrayObject *x, *h;
    double weight;
    if (!PyArg_ParseTuple(args, "O!O!d", &PyArray_Type, &x, &PyArray_Type, &h, &weight)) {
        return NULL;
    }
    int type = PyArray_TYPE(x);
    if ((type != NPY_DOUBLE && type != NPY_FLOAT) || !is_vector(x, type, 0)
        || !is_vector(h, NPY_DOUBLE, 0) || PyArray_SIZE(h) != PyArray_SIZE(x)) {
        Py_RETURN_NONE;
    }
    npy_intp n = PyArray_SIZE(x);
    PyArrayObject *upper = (PyArrayObject *)PyArray_SimpleNew(1, &n, type);
    PyArrayObject *lower = (PyArrayObject *)PyArray_SimpleNew(1, &n, type);
    PyArrayObject *scale = (PyArrayObject *)PyArray_SimpleNew(1, &n, NPY_DOUBLE);
    if (upper == NULL || lower == NULL || scale == NULL) {
        Py_XDECREF(upper);
        Py_XDECREF(lower);
        Py_XDECREF(scale);
        return NULL;
    }
    const double *hp = (const double *)PyArray_DATA(h);
    double *sp = (double *)PyArray_DATA(scale);
    if (type == NPY_DOUBLE) {
        const double *xp = (const double *)PyArray_DATA(x);
        double *up = (double *)PyArray_DATA(upper), *lp = (double *)PyArray_DATA(lower);
        for (npy_intp i = 0; i < n; i++) {
            up[i] = xp[i] + hp[i];
            lp[i] = xp[i] - hp[i];
            sp[i] = weight / hp[i];
        }
    }
    else {
        const float *xp = (const float *)PyArray_DATA(x);
        float *up = (float *)PyArray_DATA(upper), *lp = (float *)PyArray_DATA(lower);
        for (npy_intp i = 0; i < n; i++) {
            up[i] = (float)((double)xp[i] + hp[i]);
            lp[i] = (float)((double)xp[i] - hp[i]);
            sp[i] = weight / hp[i];
        }
    }
    return Py_BuildValue("NNN", upper, lower, scale);
}

static PyMethodDef methods[] = {
    {"points", points, METH_VARARGS,
     "points(call, args, x, x0, indices, values, out, shape, fast, store)\n\n"
     "For each j: x[indices[j]] = values[j]; y = call(*args); store y in out[j]\n"
     "(directly when fast and y is a C-contiguous float array of `shape`, else\n"
     "through store(j, y)); x[indices[j]] = x0[indices[j]]."},
    {"differences", differences, METH_VARARGS,
     "differences(call, args, x, x0, start, upper, lower, scale, dest, shape, fast, store,\n"
     "            scratch, behind=False) -> list of j whose row is not finite\n\n"
     "For each j, with i = start + j: dest[j] = (f(x with x[i] = upper[j])\n"
     "- f(x with x[i] = lower[j])) * scale[j]; x[i] is restored after both calls.\n"
     "Outputs not stored directly go through store(q, y) into scratch[q].\n"
     "scratch (2 s, m) gives s slots: with behind and s > 1, a second thread\n"
     "differences the rows of the last s elements while the calls go on."},
    {"halves", halves, METH_VARARGS,
     "halves(ys, scale, dest) -> list of j whose row is not finite\n\n"
     "dest[j] = (ys[j] - ys[k + j]) * scale[j] for j < k = len(scale): the central\n"
     "difference of a stack of k upper points then k lower points, in one pass."},
    {"steps", steps, METH_VARARGS,
     "steps(x, rel) -> h or None\n\n"
     "h = (x + rel * max(1, |x|)) - x for a float64 vector x, when every h > 0."},
    {"central", central, METH_VARARGS,
     "central(x, h, weight) -> (x + h, x - h, weight / h) or None\n\n"
     "The sums in float64, rounded to x's dtype (float64 or float32), for contiguous\n"
     "vectors x and h (float64) of one length; None otherwise."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hotloop", "The hot loops of central differences in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__hotloop(void)
{
    import_array();
    return PyModule_Create(&module);
}

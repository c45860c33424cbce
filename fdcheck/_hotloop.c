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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <string.h>

static int
is_vector(PyArrayObject *a, int type, int writable)
{
    return PyArray_NDIM(a) == 1 && PyArray_TYPE(a) == type && PyArray_IS_C_CONTIGUOUS(a)
           && PyArray_ISALIGNED(a) && PyArray_ISNOTSWAPPED(a)
           && (!writable || PyArray_ISWRITEABLE(a));
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
    int type = PyArray_TYPE(x);
    if (type != NPY_DOUBLE && type != NPY_FLOAT) {
        PyErr_SetString(PyExc_TypeError, "x must be float64 or float32");
        return NULL;
    }
    npy_intp n = PyArray_SIZE(x), k = PyArray_SIZE(indices);
    if (!is_vector(x, type, 1) || !is_vector(x0, type, 0) || PyArray_SIZE(x0) != n
        || !is_vector(indices, NPY_INT64, 0) || !is_vector(values, type, 0)
        || PyArray_SIZE(values) != k) {
        PyErr_SetString(PyExc_TypeError,
                        "x, x0, values: contiguous vectors of one float dtype; indices: int64");
        return NULL;
    }
    if (PyArray_NDIM(out) != 2 || PyArray_TYPE(out) != NPY_DOUBLE || !PyArray_IS_C_CONTIGUOUS(out)
        || !PyArray_ISWRITEABLE(out) || PyArray_DIM(out, 0) < k) {
        PyErr_SetString(PyExc_TypeError, "out must be a writable C-contiguous float64 (>= k, m) array");
        return NULL;
    }
    int ndim = (int)PyTuple_GET_SIZE(shape_obj);
    if (ndim > NPY_MAXDIMS) {
        PyErr_SetString(PyExc_ValueError, "too many output dimensions");
        return NULL;
    }
    npy_intp shape[NPY_MAXDIMS];
    npy_intp m = 1;
    for (int d = 0; d < ndim; d++) {
        shape[d] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape_obj, d));
        if (shape[d] < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "negative output dimension");
            }
            return NULL;
        }
        m *= shape[d];
    }
    if (PyArray_DIM(out, 1) != m) {
        PyErr_SetString(PyExc_ValueError, "out has the wrong number of columns");
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

static PyMethodDef methods[] = {
    {"points", points, METH_VARARGS,
     "points(call, args, x, x0, indices, values, out, shape, fast, store)\n\n"
     "For each j: x[indices[j]] = values[j]; y = call(*args); store y in out[j]\n"
     "(directly when fast and y is a C-contiguous float array of `shape`, else\n"
     "through store(j, y)); x[indices[j]] = x0[indices[j]]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_hotloop", "The plain mode's hot loop in C.", -1, methods,
};

PyMODINIT_FUNC
PyInit__hotloop(void)
{
    import_array();
    return PyModule_Create(&module);
}

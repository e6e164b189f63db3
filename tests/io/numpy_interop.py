"""numpy side of the NPZ interop tests (tests/io/npz-numpy.test.ts).

  python3 numpy_interop.py make DIR   writes stored.npz, deflated.npz, zip64.npz, pickled.npz and expected.json
  python3 numpy_interop.py dump NPZ   prints {key: {dtype, shape, values}} of np.load(NPZ, allow_pickle=False)

Values are flattened in C order; floats as repr strings (so NaN/inf survive JSON), complex as [re, im],
integers as decimal strings (int64 does not fit a JS number), bytes as latin1 text.
"""
import json
import sys
import zipfile

import numpy as np


def arrays():
    rng = np.random.default_rng(7)
    a = {}
    a['f4'] = (rng.standard_normal((3, 4)) * 1e3).astype(np.float32)
    a['f4'][0, 0] = np.nan
    a['f4'][0, 1] = np.inf
    a['f4'][0, 2] = -np.inf
    a['f8'] = rng.standard_normal((2, 3, 2))
    a['c8'] = (rng.standard_normal(5) + 1j * rng.standard_normal(5)).astype(np.complex64)
    a['c16'] = rng.standard_normal((2, 2)) + 1j * rng.standard_normal((2, 2))
    for t in ['i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8']:
        info = np.iinfo(np.dtype(t))
        a[t] = np.array([info.min, info.max, 0, 1, info.max // 3], dtype=t)
    a['b1'] = np.array([[True, False, True], [False, False, True]])
    a['U'] = np.array(['', 'plain', 'çé', 'emoji 😀 x', 'tab\tnl\n'])
    a['S'] = np.array([b'', b'ab', b'\xff\x01z'])
    a['zero_d_f8'] = np.array(2.5)
    a['zero_d_U'] = np.array('{"json": [1, 2]}')
    a['zero_d_c8'] = np.complex64(1 - 2j) * np.ones((), dtype=np.complex64)
    a['fortran_f4'] = np.asfortranarray(rng.standard_normal((3, 4, 5)).astype(np.float32))
    a['fortran_c16'] = np.asfortranarray(rng.standard_normal((4, 3)) + 1j)
    a['fortran_U'] = np.asfortranarray(np.array([['a', 'bb', 'ccc'], ['dddd', 'e', 'ff']]))
    a['be_f8'] = rng.standard_normal(4).astype('>f8')
    a['be_f4'] = rng.standard_normal((2, 2)).astype('>f4')
    a['be_c16'] = (rng.standard_normal(3) + 2j).astype('>c16')
    a['be_c8'] = (rng.standard_normal(3) + 2j).astype('>c8')
    a['be_i4'] = np.array([-5, 7, 2**31 - 1], dtype='>i4')
    a['be_u8'] = np.array([2**64 - 1, 3], dtype='>u8')
    a['be_i2'] = np.array([-300, 300], dtype='>i2')
    a['be_U'] = np.array(['big', 'endian é'], dtype='>U8')
    a['be_fortran_f8'] = np.asfortranarray(rng.standard_normal((2, 3))).astype('>f8', order='F')
    a['empty'] = np.zeros((0, 3), dtype=np.float32)
    a['ünïcode_këy'] = np.arange(3, dtype=np.int32)  # a non-ASCII member name (zip UTF-8 flag)
    return a


def flat_values(x):
    flat = np.asarray(x).ravel(order='C')
    k = flat.dtype.kind
    if k == 'f':
        return [repr(float(v)) for v in flat]
    if k == 'c':
        return [[repr(float(v.real)), repr(float(v.imag))] for v in flat]
    if k in 'iu':
        return [str(int(v)) for v in flat]
    if k == 'b':
        return [bool(v) for v in flat]
    if k == 'U':
        return [str(v) for v in flat]
    if k == 'S':
        return [bytes(v).decode('latin1') for v in flat]
    raise TypeError(k)


def describe(arrs):
    return {
        key: {
            'dtype': x.dtype.str,
            'shape': list(x.shape),
            'fortran': bool(x.flags.f_contiguous and not x.flags.c_contiguous),
            'values': flat_values(x),
        }
        for key, x in arrs.items()
    }


def make(d):
    a = arrays()
    np.savez(f'{d}/stored.npz', **a)
    np.savez_compressed(f'{d}/deflated.npz', **a)
    # force zip64 central-directory extras and the zip64 end records on a small file
    limit, count = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 64, 1
    try:
        np.savez_compressed(f'{d}/zip64.npz', **a)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = limit, count
    meta = {'schema_version': '1.0.0', 'physics_parameters': {'nphotons': 1000.0}}
    np.savez_compressed(
        f'{d}/pickled.npz',
        diffraction=np.ones((2, 4, 4), dtype=np.float32),
        _metadata=np.array(json.dumps(meta), dtype=object),
    )
    with open(f'{d}/expected.json', 'w') as f:
        json.dump(describe(a), f)


def dump(path):
    with np.load(path, allow_pickle=False) as z:
        out = describe({k: z[k] for k in z.files})
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    {'make': make, 'dump': dump}[sys.argv[1]](sys.argv[2])

"""How much of the object is LINEARLY recoverable from the diffraction (a baseline for the network).

    python3 scripts/linear_baseline.py <phase C dose folder> [half-width of the central window, default 12]

Fits a ridge regression from the central (2r x 2r) diffraction amplitudes of patched_train.npz to the ground-truth
patch (central N/2 x N/2, phase and amplitude, each patch's mean removed) and reports the mean per-patch
correlation on the train and test splits for several ridge strengths. numpy only.
"""
import numpy as np, sys
root = sys.argv[1]
def load(f):
    d = np.load(f); X = d['diffraction'].astype(np.float64); P = d['ground_truth_patches']
    return X, P
Xtr, Ptr = load(f'{root}/patched_train.npz'); Xte, Pte = load(f'{root}/patched_test.npz')
N = Xtr.shape[1]; q = N // 4; r = int(sys.argv[2]) if len(sys.argv) > 2 else 12
c = N // 2
def feats(X): return X[:, c - r:c + r, c - r:c + r].reshape(len(X), -1)
def targ(P, kind):
    Z = P[:, q:q + N // 2, q:q + N // 2]
    t = np.angle(Z) if kind == 'phase' else np.abs(Z)
    t = t - t.mean(axis=(1, 2), keepdims=True)
    return t.reshape(len(P), -1)
Ftr, Fte = feats(Xtr), feats(Xte); mu, sd = Ftr.mean(0), Ftr.std(0) + 1e-6

for kind in ['phase', 'amp']:
    Ttr, Tte = targ(Ptr, kind), targ(Pte, kind)
    for lam in [1e0, 1e1, 1e2, 1e3]:
        A = Ftr.T @ Ftr + lam * np.eye(Ftr.shape[1]); W = np.linalg.solve(A, Ftr.T @ Ttr)
        def score(F, T):
            Y = F @ W; cs = [np.corrcoef(Y[i], T[i])[0, 1] for i in range(len(T))]; return np.mean(cs)
        print(kind, 'lambda', lam, 'train corr %.3f test corr %.3f' % (score(Ftr, Ttr), score(Fte, Tte)))

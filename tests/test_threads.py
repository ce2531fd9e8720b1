"""The Numba backend's threading: split kernels give the reference's results, on every split.

The kernels split only large work over threads; here the thresholds are lowered to nothing so
that tiny arrays are cut into several chunks, including cuts that do not fall on even sizes.
"""

import numpy as np
import pytest

from tinygrad_lm.kernels import reference as R
from tinygrad_lm.kernels import threads

N = pytest.importorskip("tinygrad_lm.kernels.numba_cpu")
from tinygrad_lm.kernels import _nb_attention  # noqa: E402  (needs numba, like N)

TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dt(request):
    return request.param


@pytest.fixture
def split_everything(monkeypatch):
    """Three threads (more than the chunks of some inputs) and no minimum work per thread."""
    monkeypatch.setattr(threads, "MIN_SPLIT", 1e-30)
    monkeypatch.setattr(threads, "HANDOFF", 0.0)
    monkeypatch.setattr(_nb_attention, "_TILE_BYTES", 1)  # one batch entry per tile
    monkeypatch.setattr(_nb_attention, "_QUERY_BLOCK", 3)  # several causal query blocks
    with threads.use_threads(3):
        yield


def close(got, want, dt):
    scale = max(1.0, float(np.max(np.abs(want))))
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL[dt] * scale * 10)


def test_split_rows_cuts_whole_blocks_and_covers_everything(monkeypatch):
    monkeypatch.setattr(threads, "HANDOFF", 0.0)
    with threads.use_threads(3):
        chunks = threads.split_rows(10, seconds=1.0, align=3)
        assert chunks[0][0] == 0 and chunks[-1][1] == 10
        assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
        assert all(lo % 3 == 0 for lo, _ in chunks)
        assert len(chunks) == 3
        # too little work for a second thread, or fewer blocks than threads
        assert threads.split_rows(10, seconds=threads.MIN_SPLIT / 2) == [(0, 10)]
        assert len(threads.split_rows(10, seconds=threads.MIN_SPLIT * 1.5)) == 2
        assert len(threads.split_rows(4, seconds=1.0, align=2)) == 2
    with threads.use_threads(1):
        assert threads.split_rows(100, seconds=1.0) == [(0, 100)]


def test_the_callers_share_makes_up_for_the_workers_late_start(monkeypatch):
    monkeypatch.setattr(threads, "HANDOFF", 50e-6)
    with threads.use_threads(2):
        # 1 ms of work: the worker starts 50 us late, so it gets (1000 - 50) / 2 us of it
        assert threads.split_rows(1000, seconds=1e-3) == [(0, 475), (475, 1000)]


def test_set_num_threads_checks_and_restores():
    before = threads.num_threads()
    with threads.use_threads(2):
        assert threads.num_threads() == 2
    assert threads.num_threads() == before
    for bad in (0, -1, 2.5, "2", True):
        with pytest.raises(ValueError, match="set_num_threads"):
            threads.set_num_threads(bad)


def blas_threads() -> list[int]:
    """The thread count of each BLAS library the engine holds, as threadpoolctl reads it now
    (skips the test if there is none). A BLAS loaded after the engine looked its libraries up
    (another package's copy of OpenBLAS, say) is left alone by design, so it is not counted."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    held = {lib.filepath for lib in threads._blas_libraries()}
    counts = [i["num_threads"] for i in threadpoolctl.threadpool_info()
              if i["user_api"] == "blas" and i["filepath"] in held]
    if not counts:
        pytest.skip("no BLAS library that threadpoolctl can see")
    return counts


def test_blas_is_held_to_one_thread_only_while_the_engine_splits_work():
    own = blas_threads()
    seen = []
    with threads.use_threads(2):
        threads.run_chunks(lambda lo, hi: seen.append(blas_threads()), [(0, 1), (1, 2)])
        assert seen == [[1] * len(own)] * 2
        assert blas_threads() == own  # given back as soon as the kernel returns
    with threads.use_threads(1):
        seen.clear()
        threads.run_chunks(lambda lo, hi: seen.append(blas_threads()), [(0, 1), (1, 2)])
        assert seen == [own] * 2  # one thread for kernels: BLAS threads itself


def test_blas_is_held_even_when_a_job_is_too_small_to_split():
    # a small model's kernels never split; left alone, OpenBLAS would thread each of their
    # small matmuls itself (its wake-up and spinning cost several times the work)
    own = blas_threads()
    seen = []
    with threads.use_threads(2):
        chunks = threads.split_rows(1000, seconds=1e-6)
        assert chunks == [(0, 1000)]  # one chunk: no split
        threads.run_chunks(lambda lo, hi: seen.append(blas_threads()), chunks)
        assert seen == [[1] * len(own)] and blas_threads() == own


def test_blas_held_blocks_nest_and_restore_the_count_they_found():
    from threadpoolctl import threadpool_limits
    own = blas_threads()
    with threadpool_limits(3, user_api="blas"), threads.use_threads(2):
        with threads.blas_held():
            threads.run_chunks(lambda lo, hi: None, [(0, 1), (1, 2)])
            assert set(blas_threads()) == {1}  # a kernel's end inside the block lets go of nothing
            with threads.use_threads(1):
                assert set(blas_threads()) == {3}  # one thread for kernels: BLAS's own count
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {3}  # the user's limit, not the library's default
    assert blas_threads() == own


def test_a_single_row_runs_with_blas_threads_and_blas_is_held_again():
    # a decoding step's x W has one row, nothing to split by rows: BLAS's own threads split it
    own = blas_threads()
    seen = []
    with threads.use_threads(2), threads.blas_held():
        threads.run_row_chunks(lambda lo, hi: seen.append((lo, hi, blas_threads())), 1, 1.0)
        assert seen == [(0, 1, own)]
        assert set(blas_threads()) == {1}  # the block's hold again
    with threads.use_threads(2):
        seen.clear()  # two rows are split by rows over our threads, BLAS held in each share
        threads.run_row_chunks(lambda lo, hi: seen.append((lo, hi, blas_threads())), 2, 1.0)
        assert sorted(seen) == [(0, 1, [1] * len(own)), (1, 2, [1] * len(own))]
        seen.clear()  # too small to be worth BLAS's threads: run held, on this thread
        threads.run_row_chunks(lambda lo, hi: seen.append((lo, hi, blas_threads())), 1, 1e-9)
        assert seen == [(0, 1, [1] * len(own))]


@pytest.mark.parametrize("gelu", [None, "tanh"])
def test_single_row_linear_matches_reference(dt, gelu):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 768)).astype(dt)
    w = rng.standard_normal((768, 2304)).astype(dt)  # 7 MB in float32: read with BLAS's threads
    b = rng.standard_normal(2304).astype(dt)
    with threads.use_threads(2):
        if gelu is None:
            close(N.linear_forward(x, w, b), R.linear_forward(x, w, b), dt)
        else:
            for got, want in zip(N.linear_gelu_forward(x, w, b, gelu),
                                 R.linear_gelu_forward(x, w, b, gelu)):
                close(got, want, dt)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_splits_work_with_a_pool_of_its_own():
    import os
    import select
    with threads.use_threads(2):
        threads.run_chunks(lambda lo, hi: None, [(0, 1), (1, 2)])  # the parent's pool exists
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: would hang on the parent's (absent) worker without the reset
            code = 2
            try:
                out = []
                threads.run_chunks(lambda lo, hi: out.append(lo), [(0, 1), (1, 2)])
                code = 0 if sorted(out) == [0, 1] else 1
            finally:
                os.write(write_end, bytes([code]))  # the report the parent waits for
                os._exit(code)
        os.close(write_end)
        ready, _, _ = select.select([read_end], [], [], 30)
        report = os.read(read_end, 1) if ready else b""
        os.close(read_end)
        if not report:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        assert report, "the forked child hung on the parent's thread pool"
        assert report == b"\x00" and os.waitstatus_to_exitcode(status) == 0


def test_a_share_that_splits_again_does_not_deadlock():
    out = []

    def inner(lo, hi):
        out.append((lo, hi))

    def outer(lo, hi):
        threads.run_chunks(inner, [(10 * lo, 10 * lo + 1), (10 * lo + 1, 10 * lo + 2)])
    import threading
    with threads.use_threads(2):
        runner = threading.Thread(target=threads.run_chunks, args=(outer, [(0, 1), (1, 2)]),
                                  daemon=True)
        runner.start()
        runner.join(10)
        assert not runner.is_alive(), "a nested split deadlocked on the one-worker pool"
    assert sorted(out) == [(0, 1), (1, 2), (10, 11), (11, 12)]


def test_changing_the_thread_count_while_other_threads_split_work():
    import threading
    a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    want = a @ a
    errors, stop, enough = [], threading.Event(), threading.Event()
    done = {"compute": 0, "toggle": 0}  # each side's rounds; 50 of each is enough

    def count(side):
        done[side] += 1
        if min(done.values()) >= 50:
            enough.set()

    def compute():
        while not stop.is_set():
            try:
                np.testing.assert_allclose(N.matmul(a, a), want, rtol=1e-4, atol=1e-3)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                enough.set()
                return
            count("compute")

    def toggle():
        while not stop.is_set():
            with threads.use_threads(1):
                pass
            with threads.use_threads(3):
                pass
            count("toggle")
    workers = [threading.Thread(target=compute) for _ in range(2)] + [threading.Thread(
        target=toggle)]
    with threads.use_threads(2):
        for t in workers:
            t.start()
        enough.wait(60)
        stop.set()
        for t in workers:
            t.join(30)
    assert not any(t.is_alive() for t in workers), "a thread hung while the count changed"
    assert not errors, errors[0]
    assert enough.is_set(), f"only {done} products and toggles in 60 s"


def test_every_share_finishes_before_an_error_is_raised_and_the_callers_wins():
    import threading
    finished, caller_failed = [], threading.Event()

    def fn(lo, hi):
        if lo == 0:
            raise KeyError("worker")
        if lo == 1:  # still running when the caller's own share has failed
            assert caller_failed.wait(30), "the caller's share never ran"
            finished.append(lo)
            return
        caller_failed.set()
        raise IndexError("caller")
    with threads.use_threads(3), pytest.raises(IndexError, match="caller"):
        threads.run_chunks(fn, [(0, 1), (1, 2), (2, 3)])
    assert finished == [1]  # the slow share was waited for


def test_an_error_in_a_worker_chunk_reaches_the_caller():
    def fn(lo, hi):
        if lo == 0:
            raise KeyError("first chunk")
    with threads.use_threads(2), pytest.raises(KeyError, match="first chunk"):
        threads.run_chunks(fn, [(0, 1), (1, 2)])


@pytest.mark.parametrize("a_shape,b_shape,ta,tb", [
    ((7, 5), (5, 3), False, False),          # rows split
    ((3, 5), (5, 11), False, False),         # more columns than rows: columns split
    ((5, 7), (5, 3), True, False),           # weight gradient x^T dy
    ((7, 5), (3, 5), False, True),           # input gradient dy W^T
    ((5, 2, 4, 3), (5, 2, 3, 6), False, False),  # attention-like batch
    ((5, 2, 4, 3), (1, 2, 6, 3), False, True),   # broadcast batch axis on the right
    ((2, 4, 3), (5, 2, 3, 6), False, False),      # fewer batch axes on the left
])
def test_split_matmul_matches_reference(split_everything, dt, a_shape, b_shape, ta, tb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(dt)
    b = rng.standard_normal(b_shape).astype(dt)
    close(N.matmul(a, b, ta, tb), R.matmul(a, b, ta, tb), dt)


@pytest.mark.parametrize("gelu", [None, "tanh", "none"])
def test_split_linear_matches_reference(split_everything, dt, gelu):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((11, 4)).astype(dt)
    w = rng.standard_normal((4, 6)).astype(dt)
    b = rng.standard_normal(6).astype(dt)
    gy = rng.standard_normal((11, 6)).astype(dt)
    if gelu is None:
        close(N.linear_forward(x, w, b), R.linear_forward(x, w, b), dt)
        got, want = N.linear_backward(x, w, gy), R.linear_backward(x, w, gy)
    else:
        (y, h), (y_ref, h_ref) = (N.linear_gelu_forward(x, w, b, gelu),
                                  R.linear_gelu_forward(x, w, b, gelu))
        close(y, y_ref, dt)
        close(h, h_ref, dt)
        got = N.linear_gelu_backward(x, w, h, gy, approximate=gelu)
        want = R.linear_gelu_backward(x, w, h_ref, gy, approximate=gelu)
    for u, v in zip(got, want):
        close(u, v, dt)


@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, True, False),
                                   (False, True, False)])
@pytest.mark.parametrize("gelu", [None, "tanh", "none"])
def test_weight_split_by_columns_matches_reference(split_everything, dt, gelu, needs):
    """Few rows through a wide weight (a short batch through GPT-2's MLP): dW is split by its
    columns, with no partial sums, in a second hand-off after the rows' dh and dx."""
    assert N._weight_by_columns(3, 8, 40) and not N._weight_by_columns(64, 8, 40)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 8)).astype(dt)
    w = rng.standard_normal((8, 40)).astype(dt)  # 40 columns: shares of whole 16-column blocks
    b = rng.standard_normal(40).astype(dt)
    gy = rng.standard_normal((3, 40)).astype(dt)
    if gelu is None:
        got, want = N.linear_backward(x, w, gy, *needs), R.linear_backward(x, w, gy, *needs)
    else:
        _, h = N.linear_gelu_forward(x, w, b, gelu)
        got = N.linear_gelu_backward(x, w, h, gy, *needs, approximate=gelu)
        want = R.linear_gelu_backward(x, w, h, gy, *needs, approximate=gelu)
    for u, v in zip(got, want):
        assert (u is None) == (v is None)
        if u is not None:
            close(u, v, dt)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(7, 3, 3), (7, 3, 5)])  # 21 rows: even cuts miss multiples of 3
def test_split_softmax_matches_reference(split_everything, dt, causal, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dt)
    g = rng.standard_normal(x.shape).astype(dt)
    y = N.softmax_forward(x, 0.5, causal)
    close(y, R.softmax_forward(x, 0.5, causal), dt)
    close(N.softmax_backward(y, g, 0.5), R.softmax_backward(y, g, 0.5), dt)


def test_split_layernorm_and_gelu_match_reference(split_everything, dt):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((11, 6)).astype(dt)
    g = rng.standard_normal(x.shape).astype(dt)
    w, b = rng.standard_normal(6).astype(dt), rng.standard_normal(6).astype(dt)
    got, want = N.layernorm_forward(x, w, b), R.layernorm_forward(x, w, b)
    for u, v in zip(got, want):
        close(u, v, dt)
    for u, v in zip(N.layernorm_backward(g, x, w, *got[1:]), R.layernorm_backward(g, x, w,
                                                                              *want[1:])):
        close(u, v, dt)
    for approximate in ("tanh", "none"):
        close(N.gelu_forward(x, approximate), R.gelu_forward(x, approximate), dt)
        close(N.gelu_backward(x, g, approximate), R.gelu_backward(x, g, approximate), dt)


@pytest.mark.parametrize("need_x", [True, False])
def test_split_linear_with_a_transposed_weight_matches_reference(split_everything, dt, need_x):
    """A tied head's weight is the embedding (V, C) seen as (C, V): its dW is computed in the
    embedding's layout, split by V, and comes back as a view whose transpose is C-contiguous."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4)).astype(dt)
    emb = rng.standard_normal((11, 4)).astype(dt)  # (V, C): 11 rows over 3 threads
    gy = rng.standard_normal((5, 11)).astype(dt)
    got = N.linear_backward(x, emb.T, gy, need_x, True, True)
    want = R.linear_backward(x, emb.T, gy, need_x, True, True)
    for u, v in zip(got, want):
        assert (u is None) == (v is None)
        if u is not None:
            close(u, v, dt)
    assert got[1].T.flags.c_contiguous
    close(N.linear_forward(x, emb.T, None), R.linear_forward(x, emb.T, None), dt)


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_split_cross_entropy_matches_reference(split_everything, dt, ignore_index):
    rng = np.random.default_rng(6)
    x = (3 * rng.standard_normal((11, 1500))).astype(dt)  # 11 rows over 3 threads, 2 chunks a row
    t = rng.integers(0, 1500, 11)
    t[[0, 5]] = ignore_index if ignore_index >= 0 else t[[0, 5]]
    loss, lse = N.cross_entropy_forward(x, t, ignore_index)
    loss_ref, lse_ref = R.cross_entropy_forward(x, t, ignore_index)
    close(loss, loss_ref, dt)
    close(lse, lse_ref, dt)
    close(N.cross_entropy_backward(x, t, lse, ignore_index, 0.5),
          R.cross_entropy_backward(x, t, lse_ref, ignore_index, 0.5), dt)


@pytest.mark.parametrize("B", [5, 1])  # 1: split by heads
def test_split_attention_matches_reference(split_everything, dt, B):
    rng = np.random.default_rng(4)
    nh, T, hs = 3, 4, 2
    qkv = rng.standard_normal((B, T, 3 * nh * hs)).astype(dt)
    gy = rng.standard_normal((B, T, nh * hs)).astype(dt)
    (y, att), (y_ref, att_ref) = N.attention_forward(qkv, nh), R.attention_forward(qkv, nh)
    close(y, y_ref, dt)
    close(N.attention_weights(att), att_ref, dt)
    close(N.attention_backward(qkv, att, gy, nh), R.attention_backward(qkv, att_ref, gy, nh), dt)
    # the Numba backward also takes full weights; the reference takes the blocks expanded
    close(N.attention_backward(qkv, att_ref, gy, nh),
          R.attention_backward(qkv, N.attention_weights(att), gy, nh), dt)


def test_split_results_do_not_depend_on_timing(split_everything):
    """Same inputs, same thread count: bit-identical results (resumed training relies on it)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 16)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = np.ones(16, np.float32)
    _, mean, rstd = N.layernorm_forward(x, w, None)
    first = N.layernorm_backward(g, x, w, mean, rstd)
    for _ in range(5):
        again = N.layernorm_backward(g, x, w, mean, rstd)
        assert all(np.array_equal(u, v) for u, v in zip(first, again) if u is not None)


def test_float32_training_curve_follows_float64(split_everything):
    """A short run of a small GPT on a learnable sequence, every kernel split over threads:
    the float32 losses stay within noise of the float64 ones from the same start."""
    import tinygrad_lm as tg
    from tinygrad_lm.training import optim

    cfg = tg.GPTConfig(vocab_size=7, block_size=8, n_layer=2, n_head=2, n_embd=16)
    seq = np.arange(9 * 6) % 7  # cyclic: predictable, so the loss really falls
    x = np.stack([seq[i:i + 8] for i in range(6)])
    y = np.stack([seq[i + 1:i + 9] for i in range(6)])
    curves = {}
    for dtype in (np.float64, np.float32):
        model = tg.GPT(cfg, seed=0).to(dtype)
        opt = optim.AdamW(model.parameters(), lr=3e-3)
        losses = []
        for _ in range(30):
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
        curves[dtype] = np.array(losses)
    assert curves[np.float64][-1] < 0.6 * curves[np.float64][0]  # it learned
    np.testing.assert_allclose(curves[np.float32], curves[np.float64], rtol=2e-3)


def test_every_per_element_cost_is_in_the_one_table():
    """The cost model's constants live in threads.py: each kernel names its row of PASSES
    (an unknown name is a KeyError, not a silent guess), and every row is used by a kernel."""
    import glob
    import os
    import re
    sources = "".join(open(p).read() for p in glob.glob(os.path.join(
        os.path.dirname(threads.__file__), "_nb_*.py")))
    used = set(re.findall(r'element_seconds\("(\w+)"', sources))
    assert used == set(threads.PASSES)
    assert "threads.ELEMENT" not in sources  # no factor outside the table
    assert threads.element_seconds("adamw", 1000) == pytest.approx(
        threads.PASSES["adamw"] * 1000 * threads.ELEMENT)
    with pytest.raises(KeyError):
        threads.element_seconds("no such kernel", 1)

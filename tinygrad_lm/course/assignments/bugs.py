"""Planted bugs: classic student mistakes, each a small patch to the solution of one task.

`tinygrad-lm assignments validate` applies each one, grades, and checks that the task it
belongs to loses points while every other task's graded code stays byte-for-byte the
solution's. A patch is an exact snippet that must occur once in its file, inside a region of
its task, so a bug fails loudly (instead of silently testing nothing) when the code it patches
moves or changes. This file quotes solution lines: student copies never contain it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    """One planted mistake: in `path`, the snippet `old` (inside a region of `task`) becomes `new`;
    `what` says what a student would have got wrong.
    """
    name: str
    task: str
    path: str
    old: str
    new: str
    what: str


AUTOGRAD = "tinygrad_lm/autograd.py"
ELEMENTWISE = "tinygrad_lm/ops/elementwise.py"
REDUCE = "tinygrad_lm/ops/reduce.py"
LINALG = "tinygrad_lm/ops/linalg.py"
MOVEMENT = "tinygrad_lm/ops/movement.py"
REFERENCE = "tinygrad_lm/kernels/reference.py"
NB_SOFTMAX = "tinygrad_lm/kernels/_nb_softmax.py"
NB_LAYERNORM = "tinygrad_lm/kernels/_nb_layernorm.py"
ATTENTION = "tinygrad_lm/nn/attention.py"
GPT = "tinygrad_lm/nn/gpt.py"
OPTIM = "tinygrad_lm/training/optim.py"
SAMPLING = "tinygrad_lm/generation/sampling.py"
NORMS = "tinygrad_lm/ops/norms.py"
ROTARY = "tinygrad_lm/ops/rotary.py"
MODERN = "tinygrad_lm/nn/modern.py"

BUGS = [
    Bug("toposort_children_first", "1.1", AUTOGRAD,
        "        stack.append((node, True))\n        if node._ctx is not None:\n"
        "            for parent in node._ctx.parents:\n"
        "                if parent is not None and parent.requires_grad and id(parent) not in "
        "visited:\n                    stack.append((parent, False))\n",
        "        if node._ctx is not None:\n            for parent in node._ctx.parents:\n"
        "                if parent is not None and parent.requires_grad and id(parent) not in "
        "visited:\n                    stack.append((parent, False))\n"
        "        stack.append((node, True))\n",
        "a node is emitted before its parents are done"),
    Bug("toposort_recursive", "1.1", AUTOGRAD,
        "    order, visited = [], set()\n    stack = [(root, False)]\n",
        "    order, visited = [], set()\n\n    def visit(node):\n"
        "        if id(node) in visited:\n            return\n        visited.add(id(node))\n"
        "        if node._ctx is not None:\n            for parent in node._ctx.parents:\n"
        "                if parent is not None and parent.requires_grad:\n"
        "                    visit(parent)\n        order.append(node)\n"
        "    visit(root)\n    return order\n    stack = [(root, False)]\n",
        "a recursive depth-first search: deep graphs hit Python's recursion limit"),
    Bug("leaf_grad_overwritten", "1.2", AUTOGRAD,
        "                node.grad += g\n", "                node.grad = g\n",
        "a leaf's gradient is overwritten instead of accumulated"),
    Bug("shared_grad_overwritten", "1.2", AUTOGRAD,
        "            grads[key] = pg if key not in grads else grads[key] + pg\n",
        "            grads[key] = pg\n",
        "a tensor used twice keeps only the last path's gradient"),
    Bug("no_unbroadcast", "1.2", AUTOGRAD,
        "            pg = unbroadcast(pg, parent.shape).astype(parent.dtype, copy=False)\n",
        "            pg = pg.astype(parent.dtype, copy=False)\n",
        "gradients of broadcast inputs are not summed back to the input's shape"),
    Bug("unbroadcast_drops_keepdims", "1.3", AUTOGRAD,
        "        grad = grad.sum(axis=axes, keepdims=True)\n",
        "        grad = grad.sum(axis=axes)\n",
        "axes of size 1 are summed away instead of kept"),
    Bug("unbroadcast_leading_axes_only", "1.3", AUTOGRAD,
        "    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)\n",
        "    axes = ()\n",
        "only the leading axes broadcasting added are summed"),
    Bug("mul_gradients_swapped", "2.1", ELEMENTWISE,
        "        return (g * b if ctx.needs_input_grad[0] else None,\n"
        "                g * a if ctx.needs_input_grad[1] else None)\n",
        "        return (g * a if ctx.needs_input_grad[0] else None,\n"
        "                g * b if ctx.needs_input_grad[1] else None)\n",
        "each input gets its own value instead of the other's"),
    Bug("div_sign", "2.2", ELEMENTWISE,
        "                -g * a / (b * b) if ctx.needs_input_grad[1] else None)\n",
        "                g * a / (b * b) if ctx.needs_input_grad[1] else None)\n",
        "d(a/b)/db without the minus sign"),
    Bug("div_no_square", "2.2", ELEMENTWISE,
        "                -g * a / (b * b) if ctx.needs_input_grad[1] else None)\n",
        "                -g * a / b if ctx.needs_input_grad[1] else None)\n",
        "d(a/b)/db = -a/b instead of -a/b^2"),
    Bug("expand_forgets_reduced_axes", "2.3", REDUCE,
        "        g = np.expand_dims(g, axes) if axes else g\n", "        g = g\n",
        "the reduced axes are not put back before broadcasting"),
    Bug("max_ties_get_full_gradient", "2.4", REDUCE,
        "        return g * hit / count\n", "        return g * hit\n",
        "every tied maximum gets the whole gradient"),
    Bug("matmul_grad_not_transposed", "2.5", LINALG,
        "            ga = k.matmul(g, b2, trans_b=True)  # (..., M, K)\n",
        "            ga = k.matmul(g, b2)  # (..., M, K)\n",
        "dA = dC B instead of dC B^T"),
    Bug("matmul_grad_b_transposed", "2.5", LINALG,
        "            gb = k.matmul(a2, g, trans_a=True)  # (..., K, N)\n",
        "            gb = k.matmul(g, a2, trans_a=True)  # (..., K, N)\n",
        "dB = dC^T A, the transpose of A^T dC"),
    Bug("linear_dw_transposed", "2.5", REFERENCE,
        "    dw = x.T @ gy if need_w else None\n",
        "    dw = gy.T @ x if need_w else None\n",
        "the linear layer's weight gradient comes out transposed"),
    Bug("getitem_assigns_repeated_indices", "2.6", MOVEMENT,
        "            np.add.at(out, ctx.index, g)\n", "            out[ctx.index] = g\n",
        "a repeated index keeps one gradient instead of their sum"),
    Bug("softmax_without_max", "3.1", NB_SOFTMAX,
        "        if not math.isfinite(m):  # all -inf (or a +inf): shift by 0, as the reference "
        "does\n            m = zero\n",
        "        m = zero\n",
        "exp of the raw logits: overflows for large ones"),
    Bug("softmax_kernel_mask_off_by_one", "3.1", NB_SOFTMAX,
        "        valid = min(tk, r % tq + (tk - tq) + 1) if causal else tk\n",
        "        valid = min(tk, r % tq + (tk - tq)) if causal else tk\n",
        "the causal mask also hides the query's own key"),
    Bug("softmax_backward_no_scale", "3.2", NB_SOFTMAX,
        "            dx[r, j] = scale * y[r, j] * (gy[r, j] - dot)\n",
        "            dx[r, j] = y[r, j] * (gy[r, j] - dot)\n",
        "the softmax backward forgets the scale"),
    Bug("layernorm_unbiased_variance", "3.3", NB_LAYERNORM,
        "        rs = one / math.sqrt(ss / cc + eps)\n",
        "        rs = one / math.sqrt(ss / (cc - one) + eps)\n",
        "LayerNorm with the unbiased (n - 1) variance"),
    Bug("layernorm_eps_outside_sqrt", "3.3", NB_LAYERNORM,
        "        rs = one / math.sqrt(ss / cc + eps)\n",
        "        rs = one / (math.sqrt(ss / cc) + eps)\n",
        "epsilon added to the standard deviation instead of the variance"),
    Bug("layernorm_backward_no_mean_term", "3.4", NB_LAYERNORM,
        "            dx[r, j] = rs * (gy[r, j] * w[j] - mean_g - xhat * mean_gx)\n",
        "            dx[r, j] = rs * (gy[r, j] * w[j] - xhat * mean_gx)\n",
        "dx misses the gradient through the mean"),
    Bug("layernorm_dweight_overwritten", "3.4", NB_LAYERNORM,
        "            dw[j] += gy[r, j] * xhat\n", "            dw[j] = gy[r, j] * xhat\n",
        "dweight keeps the last row instead of the sum over rows"),
    Bug("causal_mask_off_by_one", "4.1", REFERENCE,
        "    return j > i\n", "    return j >= i\n",
        "the causal mask also hides the query's own position"),
    Bug("causal_mask_ignores_cache_offset", "4.1", REFERENCE,
        "    i = np.arange(tq)[:, None] + (tk - tq)\n", "    i = np.arange(tq)[:, None]\n",
        "queries are aligned to the start, not the end, of the keys"),
    Bug("attention_unscaled", "4.2", ATTENTION,
        "scale=1.0 / math.sqrt(hs), causal=True)\n", "scale=1.0, causal=True)\n",
        "attention scores not divided by sqrt(head size)"),
    Bug("heads_split_wrong", "4.2", ATTENTION,
        "        q = q.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)\n",
        "        q = q.reshape(B, nh, T, hs)  # (B, nh, T, hs)\n",
        "the query heads are cut from the wrong axis"),
    Bug("block_mlp_without_residual", "4.3", GPT,
        "            x = x + self.mlp(self.ln_2(x))  # (B, T, C)\n",
        "            x = self.mlp(self.ln_2(x))  # (B, T, C)\n",
        "the pre-LN block drops the MLP's residual connection"),
    Bug("post_ln_wired_as_pre_ln", "4.3", GPT,
        "            x = self.ln_2(x + self.mlp(x))  # (B, T, C)\n",
        "            x = x + self.mlp(self.ln_2(x))  # (B, T, C)\n",
        "the post-LN block normalises before the MLP instead of after the sum"),
    Bug("adam_without_bias_correction", "5.1", REFERENCE,
        "    bc1 = 1.0 - beta1 ** step\n    bc2 = 1.0 - beta2 ** step\n",
        "    bc1 = 1.0\n    bc2 = 1.0\n",
        "Adam without bias correction"),
    Bug("weight_decay_on_gradient", "5.1", REFERENCE,
        "    if weight_decay:\n        p *= 1.0 - lr * weight_decay\n",
        "    if weight_decay:\n        g = g + weight_decay * p\n",
        "weight decay added to the gradient (Adam with L2), not decoupled (AdamW)"),
    Bug("warmup_off_by_one", "5.2", OPTIM,
        "        return lr * (step + 1) / (warmup_iters + 1)\n",
        "        return lr * step / warmup_iters\n",
        "the warmup starts at 0 and reaches lr one step early"),
    Bug("top_k_keeps_one_more", "5.3", SAMPLING,
        "    dropped = order[..., k:]\n", "    dropped = order[..., k + 1:]\n",
        "top-k keeps k + 1 tokens"),
    Bug("top_p_drops_crossing_token", "5.4", SAMPLING,
        "    n_keep = (cumulative < p - TOP_P_TOLERANCE).sum(axis=-1, keepdims=True) + 1\n",
        "    n_keep = (cumulative < p - TOP_P_TOLERANCE).sum(axis=-1, keepdims=True)\n",
        "top-p drops the token whose probability crosses p"),
    Bug("kv_cache_positions_not_advanced", "5.5", ATTENTION,
        "        start, end = self.length, self.length + k.shape[2]\n",
        "        start, end = 0, k.shape[2]\n",
        "new keys/values overwrite position 0 instead of following the cached ones"),
    Bug("rmsnorm_subtracts_the_mean", "6.1", NORMS,
        "        x_hat = x * rstd  # (..., C), each row of mean square 1\n",
        "        x_hat = (x - x.mean(axis=-1, keepdims=True)) * rstd  # (..., C)\n",
        "RMSNorm with the mean subtracted (half a LayerNorm)"),
    Bug("rope_sin_sign_flipped", "6.2", ROTARY,
        "    out_a[...] = a * cos - b * sin\n", "    out_a[...] = a * cos + b * sin\n",
        "the pairs are not rotated (a reflection instead of a rotation)"),
    Bug("rope_position_restarts_after_cache", "6.2", MODERN,
        "        start = kv_cache.length if kv_cache is not None else 0  # absolute position of "
        "x[:, 0]\n",
        "        start = 0  # absolute position of x[:, 0]\n",
        "RoPE rotates tokens decoded after a KV cache by position 0, not their own"),
    Bug("swiglu_gates_swapped", "6.3", MODERN,
        "        h = F.silu(self.gate_proj(x)) * self.up_proj(x)  # (B, T, hidden)\n",
        "        h = F.silu(self.up_proj(x)) * self.gate_proj(x)  # (B, T, hidden)\n",
        "silu on the up projection instead of the gate (gate and up swapped)"),
]

BY_NAME = {b.name: b for b in BUGS}

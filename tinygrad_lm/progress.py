"""A progress bar with loss, tokens/s and ETA (tqdm), or a silent stand-in when disabled."""

from __future__ import annotations


class _Silent:
    def update(self, n=1):
        pass

    def set_postfix(self, **kwargs):
        pass

    def write(self, text):
        print(text)

    def close(self):
        pass


def progress_bar(total: int, initial: int = 0, enabled: bool = True):
    if not enabled:
        return _Silent()
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)

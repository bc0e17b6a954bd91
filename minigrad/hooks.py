"""Hook handles: what `Tensor.register_hook` and `Module.register_forward_hook` return.

A hook is kept in an ordered dict under a fresh integer id; the handle remembers the dict
(weakly, so a handle does not keep a graph or a module alive) and the id, and `remove()`
deletes it. Handles are also context managers: `with t.register_hook(fn): ...` removes
the hook on leaving the block.
"""

import itertools
import weakref

_next_id = itertools.count()


class RemovableHandle:
    """Removes the hook it was returned for: `handle.remove()` (idempotent)."""

    __slots__ = ("id", "_hooks_ref")

    def __init__(self, hooks_dict):
        self.id = next(_next_id)
        self._hooks_ref = weakref.ref(hooks_dict)

    def remove(self):
        hooks = self._hooks_ref()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False

    def __repr__(self):
        return f"<RemovableHandle id={self.id}>"


class HookDict(dict):
    """A dict of hooks (a plain dict cannot be weakly referenced)."""

    __slots__ = ("__weakref__",)


def add_hook(hooks_dict, hook):
    """Store `hook` in `hooks_dict` and return its handle."""
    if not callable(hook):
        raise TypeError(f"register hook: the hook must be callable, got {type(hook).__name__}")
    handle = RemovableHandle(hooks_dict)
    hooks_dict[handle.id] = hook
    return handle

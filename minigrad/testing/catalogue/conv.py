"""Catalogue entries of convolution and pooling (minigrad/ops/conv.py), NCHW; exposed in
mg.nn.functional and as nn modules."""

from ..samplers import cases, distinct_sampler, np_conv2d, np_pool, uniform
from .entry import Case, Entry

OPS = "minigrad.ops.conv."


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def _pool(fname, how):
    pools = [
        # name suffix, kernel, stride, padding, shapes, second order
        ("", 2, None, 0, [[(2, 3, 4, 4)], [(1, 1, 5, 3)]], how == "max"),
        ("_overlap_pad", 3, 1, 1, [[(1, 2, 4, 5)], [(2, 1, 3, 3)]], True),
        ("_stride_gt_kernel", (2, 1), (3, 2), (1, 0), [[(1, 2, 6, 5)], [(1, 1, 2, 3)]], False),
    ]
    out = []
    for suffix, k, s, p, shapes, second in pools:
        pk, pp = _pair(k), _pair(p)
        ps = pk if s is None else _pair(s)
        out.append(Case(cases(*shapes), distinct_sampler if how == "max" else uniform(),
                        lambda x, h=how, k=pk, s=ps, p=pp: np_pool(x, k, s, p, h), args=(k, s, p),
                        name=fname + suffix, second_order=second,
                        avoid="ties in a window (distinct values)" if how == "max" else ""))
    return tuple(out)


ENTRIES = [
    Entry("conv2d", OPS + "conv2d", expose=("F",), nn="layers.Conv2d",
          torch="torch.nn.functional.conv2d", cases=(
              Case(cases([(2, 3, 5, 5), (4, 3, 3, 3), (4,)], [(1, 1, 3, 4), (2, 1, 2, 2), (2,)]),
                   uniform(-1, 1), np_conv2d, name="conv2d"),
              Case(cases([(2, 2, 6, 5), (3, 2, 3, 3)], [(1, 3, 4, 4), (2, 3, 2, 3)]), uniform(-1, 1),
                   lambda x, w: np_conv2d(x, w, stride=(2, 2), padding=(1, 1)),
                   kwargs={"stride": 2, "padding": 1}, name="conv2d_stride_pad", second_order=True,
                   avoid="(H + 2p - k) not divisible by the stride"),
              Case(cases([(1, 2, 3, 7), (2, 2, 3, 2), (2,)], [(2, 1, 2, 3), (1, 1, 1, 1), (1,)]),
                   uniform(-1, 1), lambda x, w, b: np_conv2d(x, w, b, stride=(1, 3), padding=(2, 0)),
                   kwargs={"stride": (1, 3), "padding": (2, 0)}, name="conv2d_rect",
                   avoid="stride > kernel, 1x1 kernel"),
              Case(cases([(2, 2, 3, 3), (3, 2, 3, 3)]), uniform(-1, 1), np_conv2d,
                   name="conv2d_full_kernel", avoid="kernel == input size"),
          )),
    Entry("max_pool2d", OPS + "max_pool2d", expose=("F",), nn="layers.MaxPool2d",
          torch="torch.nn.functional.max_pool2d", cases=_pool("max_pool2d", "max")),
    Entry("avg_pool2d", OPS + "avg_pool2d", expose=("F",), nn="layers.AvgPool2d",
          torch="torch.nn.functional.avg_pool2d", cases=_pool("avg_pool2d", "avg")),
]

"""Catalogue entries of mg.nn.functional's own functions (losses, linear, normalisation,
smooth activations, embedding, adaptive pooling) and their nn modules.

Their cases are written in nn_opspecs.py / nn_layer_opspecs.py (targets, weights and other
fixed non-tensor inputs live there); each entry picks its cases by name.
"""

from ..nn_opspecs import NN_SPECS
from ..spec import OpSpec
from .entry import Case, Entry

FN = "minigrad.nn.functional."
TF = "torch.nn.functional."
_BY_NAME = {s.name: s for s in NN_SPECS}


def _case(spec: OpSpec, second_order):
    return Case(spec.shape_cases, spec.sample, spec.reference, fn=spec.fn, torch_fn=spec.torch_fn,
                name=spec.name, noncontiguous=spec.noncontiguous, avoid=spec.avoid,
                second_order=second_order)


def fn(name, nn=None, impl=None, second=(), order=2, **kw):
    """An F-only entry: F.<name> (defined at `impl`, default nn.functional.<name>), torch's
    F.<name>, with the nn_opspecs cases named "nn.functional.<name>" or "...<name>[...]".
    `second`: the case names (after the prefix) that gradgradcheck runs; default the first."""
    prefix = "nn.functional." + name
    picked = [s for s in NN_SPECS if s.name == prefix or s.name.startswith(prefix + "[")]
    cases = tuple(_case(s, s.name[len("nn.functional."):] in second if second else None)
                  for s in picked)
    return Entry(name, impl or FN + name, expose=("F",), nn=nn, torch=TF + name, order=order,
                 cases=cases, **kw)


ENTRIES = [
    fn("linear", nn="layers.Linear"),
    fn("mse_loss", nn="loss.MSELoss"),
    fn("l1_loss", nn="loss.L1Loss"),
    fn("smooth_l1_loss", nn="loss.SmoothL1Loss"),
    fn("huber_loss", nn="loss.HuberLoss"),
    fn("kl_div", nn="loss.KLDivLoss", second=("kl_div[batchmean]", "kl_div[batchmean,log_target]")),
    fn("binary_cross_entropy", nn="loss.BCELoss"),
    fn("binary_cross_entropy_with_logits", nn="loss.BCEWithLogitsLoss",
       second=("binary_cross_entropy_with_logits[pos_weight]",)),
    fn("cross_entropy", nn="loss.CrossEntropyLoss",
       second=("cross_entropy[mean,label_smoothing=0.2,weight,ignore_index]",
               "cross_entropy[none,label_smoothing=0.2]")),
    fn("nll_loss", nn="loss.NLLLoss", order=1),
    fn("batch_norm", nn=("norm.BatchNorm1d", "norm.BatchNorm2d"), order=1),
    fn("layer_norm", nn="norm.LayerNorm", impl="minigrad.nn.layer_norm.layer_norm",
       second=("layer_norm", "layer_norm[2 dims, no affine]")),
    fn("gelu", nn="activation.GELU", impl="minigrad.nn.smooth_activations.gelu",
       second=("gelu", "gelu[tanh]")),
    fn("silu", nn="activation.SiLU", impl="minigrad.nn.smooth_activations.silu"),
    fn("elu", nn="activation.ELU", impl="minigrad.nn.smooth_activations.elu"),
    fn("softplus", nn="activation.Softplus", impl="minigrad.nn.smooth_activations.softplus",
       second=("softplus[beta=2,threshold=1.5]",)),
    fn("logsigmoid", nn="activation.LogSigmoid", impl="minigrad.nn.smooth_activations.logsigmoid"),
    fn("embedding", nn="layers.Embedding", impl="minigrad.nn.embedding.embedding"),
    fn("adaptive_avg_pool2d", nn="layers.AdaptiveAvgPool2d",
       impl="minigrad.nn.adaptive_pool.adaptive_avg_pool2d",
       second=("adaptive_avg_pool2d[2x3]",)),
    fn("dropout", nn="layers.Dropout", order=1, note="random: tests/nn (mask statistics, "
       "train/eval, inplace)"),
    fn("dropout2d", nn="layers.Dropout2d", order=1, note="random: tests/nn/test_nn_layers_extra.py"),
    fn("one_hot", impl="minigrad.nn.embedding.one_hot", order=0,
       note="integer in and out: tests/nn/test_nn_layers_extra.py against torch"),
]

# F's wrappers of the core ops whose cases are written here (F.softmax / F.log_softmax take
# the dim as PyTorch does); added to the core entries' cases in catalogue/__init__.py.
F_CASES = {
    "softmax": (_case(_BY_NAME["nn.functional.softmax"], False),),
    "log_softmax": (_case(_BY_NAME["nn.functional.log_softmax"], False),),
}

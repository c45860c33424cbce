"""Every kind of note, worded: the one place a note becomes a sentence."""
from __future__ import annotations

from typing import Callable

from ..compare import Comparison
from .common import short
from ..notes import Note


def vmap_reason(n: Note) -> str:
    """Why the framework's vmap could not stand in for one point a call."""
    if n["how"] == "raises":
        return f"the framework's vmap cannot batch it ({n['error']})"
    return "the framework's vmap gives other values than one point a call"


def _product_failed(n: Note) -> str:
    if n["derivative"] == 2:
        what = ("differentiate its own backward (double backward: a .detach() or a Function "
                "whose backward is not differentiable?)")
    else:
        what = ("compute its " + ("vector-Jacobian" if n["product"] == "vjp" else "Jacobian-vector")
                + " product")
    return f"{n['framework']} could not {what}: {n['message']}"


_DIRECTIONS = {"jvp": ("J v along {k} random directions agrees",
                       "J v disagrees along random direction {k}"),
               "vjp": ("u^T J v along {k} random pairs of directions agrees, against one "
                       "vector-Jacobian product each",
                       "u^T J v disagrees along random pair {k}; u^T J e_i is compared")}

# Every kind of note, worded: the one place a note becomes a sentence.
NOTE_TEXTS: dict[str, Callable[[Note], str]] = {
    "undefined-grad-raised": lambda n: (
        f"the backward raised when the output's gradient is undefined ({n['error']}): a "
        "backward must accept an undefined (None) output gradient and treat it as zero, as "
        "gradcheck's check_undefined_grad asks"),
    "grad-dtype": lambda n: (
        "the gradient has the wrong " + "; ".join(n["wrong"]) + ": a backward returns each "
        "gradient in its input's dtype, shape and device"),
    "confirmed": lambda n: (
        (f"failing fast: the {n['confirmed']} columns furthest from the reference, probed over "
         "a ladder of steps, confirm the mismatch" if n['confirmed'] != 1 else
         "failing fast: the column furthest from the reference, probed over a ladder of "
         "steps, confirms the mismatch")
        + _kept(n['skipped'], n['far'])
        + " (refine='all', or --refine-all, derives every column again by Richardson "
        "extrapolation)"),
    "sparse-layout": lambda n: (
        f"PyTorch returns a gradient of {n['got']} for this input of {n['want']}: the gradient "
        "of a sparse input is sparse in its layout (a dense one takes the dense matrix's "
        "memory; torch's gradcheck lets it pass); return it sparse, e.g. grad.sparse_mask(x)"),
    "vmap-disagrees": lambda n: (
        f"{n['framework']}'s vmap of the function gives other values than one point a call "
        "(at the inputs and one step away): a vmap rule or batching rule that disagrees with "
        "the forward, wrong under every transform that batches it; the other checks evaluated "
        "one point a call"),
    "vmap-failed": lambda n: (
        f"torch's vmap could not batch the rule ({n['error']}): give the Function a vmap "
        "staticmethod or generate_vmap_rule = True"),
    "outputs-skipped": lambda n: (
        f"output{'s' if len(n['skipped']) > 1 else ''} {', '.join(n['skipped'])} not checked: "
        "integer and boolean outputs have no derivative (a complex one inside a tuple, list or "
        "dict: return its .real and .imag)"),
    "unbatched": lambda n: f"evaluated one point a call: {vmap_reason(n)}",
    "too-large": lambda n: (
        f"the whole Jacobian would have {n['m']} x {n['n']} entries "
        f"({n['m'] * n['n'] * 8 / 2 ** 30:.1f} GB): checked along {n['directions']} random "
        "directions instead (set directions to choose how many)"),
    "noisy": lambda n: (
        f"the function is noisy: two evaluations at the same point differ by up to "
        f"{n['worst']:.1e} ({n['relative']:.1e} relative), which no finite difference can "
        "resolve"),
    "outputs-together": lambda n: (
        f"the outputs {', '.join(n['outputs'])} checked together, as one vector, along each "
        "direction"),
    "held": lambda n: (
        f"{', '.join(n['outputs'])} not compared with {n['framework']}: {n['framework']} marks "
        f"{'them' if len(n['outputs']) > 1 else 'it'} not differentiable"),
    "all-held": lambda n: (
        f"{n['framework']} marks every output ({', '.join(n['outputs'])}) not differentiable: "
        "its derivative of each is 0 by design, so there is nothing to compare"),
    "no-derivative": lambda n: (
        f"{n['framework']} could not take the {n['mode']}-mode derivative: {n['message']}"),
    "no-double-backward": lambda n: (
        f"{n['framework']} could not differentiate its own backward ("
        f"{'forward over reverse' if n.get('mode') == 'forward' else 'double backward'}): "
        f"{n['message']}"),
    "no-product": _product_failed,
    "not-differentiable": lambda n: (
        f"{n['framework']}'s backward of {n['output']} is not differentiable: its result does "
        f"not depend on {n['wrt']} through autograd (a .detach(), .numpy() or a Function whose "
        f"backward is not itself differentiable?), so {n['framework']} says its second "
        "derivative is 0"),
    "nothing-verified": lambda n: "no entry could be verified",
    "unchecked-leaves": lambda n: f"passed as given and not checked: {n['leaves']}",
    "disconnected": lambda n: (
        f"the output does not depend on {n['input']}: its derivative is 0 wherever it was "
        "checked, numerically and in the reference (a parameter left out of the forward "
        "pass, or detached?)"),
    "blind": lambda n: (
        f"unverifiable: an entry is allowed {short(n['resolution'])} times the largest "
        "entry of the reference (the numeric derivative is dominated by rounding or noise here), "
        "so no mistake could have been caught"),
    "auto-derived": lambda n: (
        f"tolerance auto: derived by Richardson extrapolation for its error estimate "
        f"({n['method']} gives none)"),
    "refined": lambda n: (
        f"{n['count']} column(s) derived again by Richardson extrapolation after a first "
        "mismatch"),
    "refined-hessian": lambda n: (
        f"{n['count']} entries derived again by Richardson extrapolation of second differences "
        "after a first mismatch"),
    "rejudged": lambda n: (
        f"{n['count']} entries judged by the central differences at four halving steps, "
        "extrapolated, where the estimate so far disagreed with them (the one-sided slopes "
        "meet as the step shrinks: the function is smooth there)"),
    "kink": lambda n: (
        f"{n['count']} entries at a kink (the one-sided slopes converge to different limits as "
        "the step shrinks: the derivative does not exist there), and the reference lies between "
        "the limits: not counted"),
    "outside": lambda n: (
        f"{n['count']} entries at a kink where the reference lies outside the one-sided "
        "limits: counted as mismatches (a kink's subgradients lie between them)"),
    "jump": lambda n: (
        f"{n['count']} entries at a jump (the function moves by the same amount whatever the "
        "step: the derivative does not exist there): not counted"),
    "staircase": lambda n: (
        f"unverifiable: {n['count']} entries differ where the function moves in stairs "
        f"(its values change by whole multiples of {n['quantum']:.3g}, as rounding to a grid "
        "does) finer than the finite-difference step: the numeric value is the stairs' mean "
        "slope, the derivative between stairs is 0, and neither is shown"),
    "unverified": lambda n: (
        f"unverifiable: {n['count']} entries differ, but the numeric derivative there did not "
        "settle as the step shrank (rounding or noise dominates), so neither the mismatch nor "
        "a match is proven"),
    "non-finite": lambda n: (
        f"the function is not finite at a perturbed point for {n['count']} input element(s)"),
    "retried": lambda n: (
        f"the function raised at a point of the stencil ({n['error']}); {n['count']} column(s) "
        "taken with a smaller step or one-sided"),
    "directional": lambda n: (
        f"directional check: {_DIRECTIONS[n['product']][0].format(k=n['directions'])} "
        f"({n['evaluations']} evaluations, whatever the input's size)"),
    "localized": lambda n: (
        f"directional check: {_DIRECTIONS[n['product']][1].format(k=n['direction'])}; "
        f"localized by bisection in {n['steps']} steps to input element {n['element']} "
        f"({n['evaluations']} evaluations in all)"),
}


def note_text(n: Note) -> str:
    """The sentence of a note."""
    return NOTE_TEXTS[n.kind](n)


def notes_text(c: Comparison) -> list[str]:
    """The sentences of a check's notes, in order."""
    return [note_text(n) for n in c.notes]


def _kept(far: int, factor: float) -> str:
    """The far columns failing fast believed at their first look."""
    away = f"more than {factor:g} times its tolerance away"
    if not far:
        return ""
    return (f"; 1 more, {away}, keeps its first estimate" if far == 1 else
            f"; {far} more, each {away}, keep their first estimate")

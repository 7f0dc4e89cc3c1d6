"""Compute-optimal scaling: the Chinchilla loss fit (SPEC section 9).

``loss(N, D) = E + A / N**alpha + B / D**beta`` (Hoffmann et al. 2022), with
N and D the counts of parameters and tokens.
"""

from __future__ import annotations

from ._base import Constant, Output, model
from .compute import TRAINING_FLOP

#: The fit is in plain counts: N parameters and D tokens.
ONE_PARAMETER = Constant(1.0, "parameter")
ONE_TOKEN = Constant(1.0, "token")


def parameter_term(*, params, loss_A, loss_alpha, one_parameter=ONE_PARAMETER):
    return loss_A / (params / one_parameter) ** loss_alpha


def data_term(*, tokens, loss_B, loss_beta, one_token=ONE_TOKEN):
    return loss_B / (tokens / one_token) ** loss_beta


def loss(*, params, tokens, loss_E, loss_A, loss_B, loss_alpha, loss_beta, one_parameter=ONE_PARAMETER,
         one_token=ONE_TOKEN):
    return (loss_E + parameter_term(params=params, loss_A=loss_A, loss_alpha=loss_alpha, one_parameter=one_parameter)
            + data_term(tokens=tokens, loss_B=loss_B, loss_beta=loss_beta, one_token=one_token))


def compute_optimal(compute_flops, *, loss_A, loss_B, loss_alpha, loss_beta, flop_per_token=TRAINING_FLOP,
                    one_parameter=ONE_PARAMETER, one_token=ONE_TOKEN, **_):
    """Parameters and tokens minimising the loss for a budget ``C = 6 N D``.

    Setting the derivative of the loss along ``D = C / (6 N)`` to zero gives
    ``N = G (C/6)**(beta/(alpha+beta))`` with
    ``G = (alpha A / (beta B))**(1/(alpha+beta))``, and ``D = C / (6 N)``
    (Hoffmann et al. 2022, appendix D). Works on floats, arrays and DataArrays.

    Returns
    -------
    (params, tokens)
    """
    g = (loss_alpha * loss_A / (loss_beta * loss_B)) ** (1.0 / (loss_alpha + loss_beta))
    counts = compute_flops / flop_per_token / (one_parameter * one_token)
    params = g * counts ** (loss_beta / (loss_alpha + loss_beta)) * one_parameter
    return params, compute_flops / (flop_per_token * params)


@model(name="scaling", description="Chinchilla loss L(N, D) and the compute-optimal allocation of the same budget",
       outputs={
           "loss": Output("nats/token", "pre-training loss"),
           "parameter_term": Output("nats/token", "loss term from finite parameters, A / N**alpha"),
           "data_term": Output("nats/token", "loss term from finite data, B / D**beta"),
           "compute_optimal_params": Output("parameters", "loss-minimising parameters for the same 6ND budget"),
           "compute_optimal_tokens": Output("tokens", "loss-minimising tokens for the same 6ND budget"),
           "compute_optimal_loss": Output("nats/token", "loss at the compute-optimal allocation"),
       })
def evaluate(*, params, tokens, loss_E, loss_A, loss_B, loss_alpha, loss_beta, flop_per_token=TRAINING_FLOP,
             one_parameter=ONE_PARAMETER, one_token=ONE_TOKEN):
    units = {"one_parameter": one_parameter, "one_token": one_token}
    out = {"parameter_term": parameter_term(params=params, loss_A=loss_A, loss_alpha=loss_alpha,
                                            one_parameter=one_parameter),
           "data_term": data_term(tokens=tokens, loss_B=loss_B, loss_beta=loss_beta, one_token=one_token)}
    out["loss"] = loss_E + out["parameter_term"] + out["data_term"]
    flops = flop_per_token * params * tokens
    out["compute_optimal_params"], out["compute_optimal_tokens"] = compute_optimal(
        flops, loss_A=loss_A, loss_B=loss_B, loss_alpha=loss_alpha, loss_beta=loss_beta, flop_per_token=flop_per_token,
        **units)
    out["compute_optimal_loss"] = loss(params=out["compute_optimal_params"], tokens=out["compute_optimal_tokens"],
                                       loss_E=loss_E, loss_A=loss_A, loss_B=loss_B, loss_alpha=loss_alpha,
                                       loss_beta=loss_beta, **units)
    return out


MODEL = evaluate

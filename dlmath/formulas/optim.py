r"""Formulas of the optimizers (chapter 05): one update step of each optimizer in
:mod:`dlmath.optim`, as SymPy expressions.

Notation (optax's argument names in brackets): $g_t$ the gradient at step $t$ (counted
from 1), $\eta$ the learning rate [``learning_rate``], $\mu$ the momentum [``momentum``],
$\rho$ RMSProp's decay [``decay``], $\beta_1, \beta_2$ Adam's decays [``b1``, ``b2``],
$\epsilon$ the constant added outside the square root [``eps``], $\bar\epsilon$ the one
added inside it [``eps_root``; for RMSProp ``eps`` with ``eps_in_sqrt=True``], $\lambda$
the weight decay [``weight_decay``], $\theta_t$ the parameters before the step. Each
``*_STEP`` formula is the *update* $u_t$ that :func:`dlmath.optim.apply_updates` adds to
the parameters, $\theta_{t+1} = \theta_t + u_t$ (so it carries the minus sign).
"""

from __future__ import annotations

import sympy as sp

from dlmath.formulas._formula import Formula
from dlmath.formulas.symbols import lam, t

__all__ = [
    "SGD_STEP", "MOMENTUM_TRACE", "HEAVY_BALL_STEP", "NESTEROV_STEP",
    "RMS_NU", "RMS_STEP", "RMS_STEP_EPS_OUTSIDE", "RMS_STEP_CENTERED",
    "ADAM_M", "ADAM_V", "ADAM_STEP", "NADAM_MHAT", "ADAMW_STEP",
    "eta", "mu", "rho", "beta_1", "beta_2", "epsilon", "epsilon_bar", "lam", "t",
    "g", "m_prev", "m", "nu_prev", "nu", "gbar", "v_prev", "v", "theta",
]

eta = sp.Symbol("eta", positive=True)
mu = sp.Symbol("mu", nonnegative=True)
rho = sp.Symbol("rho", positive=True)
beta_1 = sp.Symbol("beta_1", positive=True)
beta_2 = sp.Symbol("beta_2", positive=True)
epsilon = sp.Symbol("epsilon", nonnegative=True)
epsilon_bar = sp.Symbol("epsilonbar", nonnegative=True)

g = sp.Symbol("g_t", real=True)
m_prev = sp.Symbol("m_{t-1}", real=True)
m = sp.Symbol("m_t", real=True)
nu_prev = sp.Symbol(r"\nu_{t-1}", nonnegative=True)
nu = sp.Symbol("nu_t", nonnegative=True)
gbar = sp.Symbol(r"\bar{g}_{t}", real=True)
v_prev = sp.Symbol("v_{t-1}", nonnegative=True)
v = sp.Symbol("v_t", nonnegative=True)
theta = sp.Symbol("theta_t", real=True)

# SGD, heavy ball, Nesterov (optax.sgd, torch.optim.SGD with dampening=0)
SGD_STEP = Formula("optim.sgd (no momentum)", -eta * g, (g, eta))
MOMENTUM_TRACE = Formula("optim.sgd trace m_t", g + mu * m_prev, (g, m_prev, mu))
HEAVY_BALL_STEP = Formula("optim.sgd (momentum)", -eta * m, (m, eta))
NESTEROV_STEP = Formula("optim.sgd (nesterov)", -eta * (g + mu * m), (g, m, eta, mu))

# RMSProp (optax.rmsprop)
RMS_NU = Formula("optim.rmsprop nu_t", rho * nu_prev + (1 - rho) * g**2, (g, nu_prev, rho))
RMS_STEP = Formula("optim.rmsprop (eps_in_sqrt=True)", -eta * g / sp.sqrt(nu + epsilon),
                   (g, nu, eta, epsilon))
RMS_STEP_EPS_OUTSIDE = Formula("optim.rmsprop (eps_in_sqrt=False)",
                               -eta * g / (sp.sqrt(nu) + epsilon), (g, nu, eta, epsilon))
RMS_STEP_CENTERED = Formula("optim.rmsprop (centered=True)",
                            -eta * g / sp.sqrt(nu - gbar**2 + epsilon),
                            (g, nu, gbar, eta, epsilon))

# Adam, NAdam, AdamW (optax.adam, optax.adamw)
ADAM_M = Formula("optim.adam m_t", beta_1 * m_prev + (1 - beta_1) * g, (g, m_prev, beta_1))
ADAM_V = Formula("optim.adam v_t", beta_2 * v_prev + (1 - beta_2) * g**2, (g, v_prev, beta_2))
_mhat = m / (1 - beta_1**t)
_vhat = v / (1 - beta_2**t)
_direction = _mhat / (sp.sqrt(_vhat + epsilon_bar) + epsilon)
ADAM_STEP = Formula("optim.adam update", -eta * _direction,
                    (m, v, t, eta, beta_1, beta_2, epsilon, epsilon_bar))
NADAM_MHAT = Formula("optim.adam mhat (nesterov=True)",
                     beta_1 * m / (1 - beta_1 ** (t + 1)) + (1 - beta_1) * g / (1 - beta_1**t),
                     (g, m, t, beta_1))
ADAMW_STEP = Formula("optim.adamw update", -eta * (_direction + lam * theta),
                     (m, v, theta, t, eta, beta_1, beta_2, epsilon, epsilon_bar, lam))

DOCUMENTED = {
    "optim.sgd": (SGD_STEP, MOMENTUM_TRACE, HEAVY_BALL_STEP, NESTEROV_STEP),
    "optim.rmsprop": (RMS_NU, RMS_STEP, RMS_STEP_EPS_OUTSIDE, RMS_STEP_CENTERED),
    "optim.adam": (ADAM_M, ADAM_V, ADAM_STEP, NADAM_MHAT),
    "optim.adamw": (ADAM_M, ADAM_V, ADAMW_STEP),
}

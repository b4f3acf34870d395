"""The mesh checks and placement shared by the modules of :mod:`dlmath.parallel`."""

from __future__ import annotations

import jax

from dlmath import _checks


def axis(who: str, mesh, axis_name):
    """(axis name, its number of devices) of ``mesh``."""
    if not isinstance(mesh, jax.sharding.Mesh):
        raise TypeError(
            f"{who}: mesh must be a jax.sharding.Mesh; got {type(mesh).__name__}. Build one "
            "with jax.sharding.Mesh(np.array(jax.devices()), ('data',))."
        )
    names = tuple(mesh.axis_names)
    if axis_name is None:
        if len(names) != 1:
            raise ValueError(f"{who}: the mesh has the axes {names}; name the one to split "
                             "over with axis_name=...")
        axis_name = names[0]
    if axis_name not in names:
        raise ValueError(f"{who}: axis_name must be one of the mesh's axes {names}; got "
                         f"{axis_name!r}.")
    return axis_name, int(mesh.shape[axis_name])


def divisible(who: str, name: str, size: int, axis: int, legend: str, what: str, devices: int):
    if size % devices:
        raise ValueError(
            f"{who}: {name} {legend} must split evenly over the {devices} devices of the mesh "
            f"axis: its {what} ({size}, axis {axis}) is not a multiple of {devices}. Pad it, "
            "or use a mesh with a number of devices that divides it."
        )


def put(tree, sharding):
    """Concrete arrays onto the mesh with ``sharding`` (left alone under ``jit``)."""
    return jax.tree_util.tree_map(
        lambda v: v if _checks.is_traced(v) else jax.device_put(v, sharding), tree)

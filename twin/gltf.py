"""GLB export of a twin: one trimesh.Scene, one node per layer, one named node per object.

glTF is Y-up: the ``district`` root node carries the rotation from the twin's Z-up local frame
(x east, y north, z up, metres from ``Twin.origin``) to glTF's (x east, y up, z south). The
scene's extras record the CRS, the origin and the up-axis change, so a consumer can put the
geometry back on the map.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

#: Layers whose objects become one named node each (the others: one node for the layer).
PER_OBJECT_LAYERS = ("buildings", "roads", "water", "sites")
#: Local Z-up (x east, y north) → glTF Y-up (x east, y up, z south).
Z_UP_TO_Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])


def to_scene(twin, *, layers=None, per_object=PER_OBJECT_LAYERS,
             y_up: bool = True) -> trimesh.Scene:
    """Return a trimesh.Scene of ``twin``: world → ``district`` → one node per layer → one
    node per object of the ``per_object`` layers (node and geometry named by the object id;
    ``layer:id`` where an id repeats across layers) or one ``<layer>`` geometry."""
    scene = trimesh.Scene()
    root = "district"
    scene.graph.update(frame_from=scene.graph.base_frame, frame_to=root,
                       matrix=Z_UP_TO_Y_UP if y_up else np.eye(4))
    used = {root, scene.graph.base_frame}
    names = list(twin.layers) if layers is None else list(layers)
    used.update(names)
    for lname in names:
        layer = twin.layers[lname]
        scene.graph.update(frame_from=root, frame_to=lname)
        if len(layer.mesh.faces) == 0:
            continue
        if lname not in per_object:
            geom = _mesh(layer.mesh.vertices, layer.mesh.faces, layer.mesh.visual.vertex_colors,
                         {"layer": lname})
            scene.add_geometry(geom, node_name=f"{lname}:mesh", geom_name=f"{lname}:mesh",
                               parent_node_name=lname)
            continue
        nonempty = np.flatnonzero(np.diff(layer.face_offsets) > 0)
        for i in nonempty.tolist():
            oid = str(layer.object_ids[i])
            name = oid if oid not in used else f"{lname}:{oid}"
            k = 1
            while name in used:
                k += 1
                name = f"{lname}:{oid}#{k}"
            used.add(name)
            v, f, c = layer.object_arrays(i)
            geom = _mesh(v, f, c, {"layer": lname, "id": oid})
            scene.add_geometry(geom, node_name=name, geom_name=name, parent_node_name=lname)
    scene.metadata.update(twin.georeference())
    scene.metadata["up_axis"] = "Y (glTF); local frame is Z-up" if y_up else "Z"
    return scene


def _mesh(vertices, faces, colours, metadata) -> trimesh.Trimesh:
    m = trimesh.Trimesh(np.asarray(vertices, np.float32), faces, vertex_colors=colours,
                        process=False, validate=False)
    m.metadata.update(metadata)
    return m


def export_glb(twin, path, **kw) -> Path:
    """Write ``twin`` as one binary glTF file and return its path (see :func:`to_scene`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_scene(twin, **kw).export(file_type="glb")
    path.write_bytes(data)
    return path

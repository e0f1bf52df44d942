"""Exporting a twin: glTF binary (:mod:`.gltf`) and offscreen pictures (:mod:`.render`)."""

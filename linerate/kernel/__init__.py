"""The ndiv kernel built offline: the pinned source, the inputs read from the layer
(recipes/linux-ndiv), the build with a typed result (``linerate kernel``)."""

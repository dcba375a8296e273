"""canyu's shell: the ``canyu`` command, the main job (``canyu up``) and the local stack it runs on.

The top layer: it wires the rooms together and nothing imports it.
"""

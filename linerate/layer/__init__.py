"""The Yocto layer: reading its configuration, parsing it with bitbake offline, and
``linerate build`` (kas)."""

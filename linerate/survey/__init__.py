"""First contact with a board: what its bootloader (and, where reachable, the vendor's
Linux) says about itself, written to the unit's lab file that the flasher and the
board tests read (``linerate survey``)."""

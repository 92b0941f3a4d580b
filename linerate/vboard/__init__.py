"""The virtual board: QEMU virt + Debian's U-Boot + CFI NOR on pflash + e1000.

``build_images`` makes (or finds in the cache) the initramfs, the uImage, the U-Boot
environment and the pflash image; ``VirtualBoard`` runs QEMU and always stops it;
the board strategy (:mod:`linerate.board.strategy`) drives U-Boot and the shell
through the console drivers; ``ser2net`` serves its console over TCP.
"""

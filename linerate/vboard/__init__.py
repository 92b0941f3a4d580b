"""The virtual board: QEMU virt + Debian's U-Boot + CFI NOR on pflash + e1000.

``build_images`` makes (or finds in the cache) the initramfs, the uImage, the U-Boot
environment and the pflash image; ``VirtualBoard`` runs QEMU and always stops it;
``boot.boot_to_shell`` drives U-Boot and the shell through the console drivers.
"""

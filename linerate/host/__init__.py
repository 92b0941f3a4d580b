"""SLHTTPD on the host: the userspace frontend, network namespaces, the body pattern
every check uses, and wrk (``linerate serve``)."""

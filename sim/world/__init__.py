"""The simulated world on SimPy: the cluster and its servers, network, storage, timers, clients and faults.

Only this package (and the benchmark that times SimPy bare) imports SimPy."""

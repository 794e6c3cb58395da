from tests.backends import BackendSpec

SPECS = [BackendSpec(name="memory", url=lambda tmp: "memory://", multiprocess=False)]

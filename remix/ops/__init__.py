"""Operating the service: liveness, readiness, Prometheus metrics, JSON logs with request ids."""

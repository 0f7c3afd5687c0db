"""Background workers started by `control_plane.main`: the outbox dispatcher, the Kubernetes
mirror, the sweeper (billing grace, offboarding grace, housekeeping) and the usage reporter."""

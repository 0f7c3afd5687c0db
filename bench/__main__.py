"""`make bench`: run every benchmark and write its figures to bench/results/."""

from bench import provisioning

if __name__ == "__main__":
    provisioning.main()

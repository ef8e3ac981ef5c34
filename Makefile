# The two commands: `make run` and `make test`. Each is a thin call into scripts/.
.PHONY: run test bench fmt bootstrap clean-data

run:
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

fmt:
	cargo fmt --all

bootstrap:
	@scripts/bootstrap.sh --test

# Removes local databases, generated secrets and the admin password.
clean-data:
	-scripts/pg.sh stop pg
	-scripts/pg.sh stop test-pg
	rm -rf .tandem /var/tmp/tandem-pg/$$(echo "$(CURDIR)" | sha256sum | cut -c1-12)

# Two entry points for a fresh Debian machine (run as root; see README.md):
#   make run    set up, build the lab, render the example plan and converge the lab
#   make test   set up and run every test (what CI runs)
SHELL := /bin/bash
.PHONY: run test lab lab-down lab-destroy sanity units lint

run:
	tests/main-job

test:
	tests/run

lab:
	tests/lab/lab.sh up -n 2

lab-down:
	tests/lab/lab.sh down

lab-destroy:
	tests/lab/lab.sh destroy

sanity:
	tests/run sanity

units:
	tests/run units

lint:
	tests/run lint yamllint

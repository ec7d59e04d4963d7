package main

// sharedTestdata is the repository's top-level testdata directory, seen from
// this package (go test runs in the package directory). It holds the
// fixtures this package shares with the tests of the built binary
// (test/dist): the workshop's resource, the configurations to validate, the
// pipeline cases and their goldens.
const sharedTestdata = "../../testdata"

"""Child-side code: copied into each job (or loaded by the warm worker) and run
inside the sandbox. It may import only the standard library and numpy, and uses
relative imports only, so the same files work as ``grader.sandbox.child`` in the
trusted parent and as a private package inside the sandbox."""

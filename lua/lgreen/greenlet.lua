-- lgreen.greenlet: the greenlet core (Python greenlet's API on real C stacks).
-- Everything is in C; this module only names it.
return require("lgreen.core").greenlet

-- The driver tree bench/driver/run.sh serves with `hilt serve`: a
-- composite `dut` holding a bench.echo, so the client calls
-- lab.dut.echo:echo(x), the wire method "dut/echo/echo".
package.path = debug.getinfo(1, "S").source:match("^@(.*)/") .. "/?.lua;"
  .. package.path
require("echo_driver")

return {
  name = "bench-driver",
  children = {
    dut = {
      type = "composite",
      children = {
        echo = { type = "bench.echo" },
      },
    },
  },
}

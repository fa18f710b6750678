-- The simulated lab that `hilt repl` serves in its own process when it is
-- given no exporter: a board behind a bench supply, with its console, and
-- commands on this machine. Nothing real is touched; a newcomer can try
-- every kind of call at once.
return {
  name = "sim-lab",
  labels = { site = "simulated" },
  description = "A simulated lab, served inside this process",
  children = {
    dut = {
      type = "composite",
      description = "A simulated board",
      labels = { board = "sim-board" },
      children = {
        power = { type = "power.sim", voltage = 5.1, current = 0.42,
                  switch_time = 0.05 },
        console = { type = "console.sim", description = "The board's serial console" },
      },
    },
    host = {
      type = "shell",
      description = "Commands on this machine",
      timeout = 60,
      commands = {
        uname = { cmd = "uname -sr", description = "Kernel name and release" },
        wait = { cmd = "sleep", description = "Sleep N seconds (Ctrl-C cancels it)" },
      },
    },
    power = { ref = "dut.power" },
  },
}

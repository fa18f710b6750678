-- A simulated lab: one board behind a bench supply, plus commands on the
-- exporter's own machine. Serve it with `hilt serve examples/lab.lua`, or
-- in a script's own process with `hilt run --lab examples/lab.lua ...`.
--
-- A config returns the driver tree: each node names its driver `type`,
-- gives that driver's options, and may carry labels, a description and
-- children; `ref` makes a second name for another node.
return {
  name = "sim-lab",
  labels = { site = "simulated" },
  description = "A lab with nothing real in it",
  children = {
    dut = {
      type = "composite",
      description = "A simulated board",
      labels = { board = "sim-board", arch = "arm64" },
      children = {
        power = { type = "power.sim", voltage = 5.1, current = 0.42,
                  switch_time = 0.05 },
        console = { type = "console.sim", description = "The board's serial console" },
        ssh = { type = "net.tcp", port = 22,
                description = "SSH of the exporter's machine, if it runs sshd" },
      },
    },
    host = {
      type = "shell",
      description = "Commands on the exporter's machine",
      timeout = 30,
      commands = {
        uname = { cmd = "uname -sr", description = "Kernel name and release" },
        uptime = { cmd = "cut -d' ' -f1 /proc/uptime", description = "Seconds since boot" },
        hash = { cmd = "sha256sum", description = "SHA-256 of the files given" },
        slow = { cmd = "sleep", timeout = 0.5, description = "Sleep N seconds (times out at 0.5)" },
      },
    },
    power = { ref = "dut.power" },
  },
}

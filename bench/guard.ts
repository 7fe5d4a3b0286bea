/**
 * Preloaded (`node --import`) into every Hookline process that the benchmark
 * starts. The driver holds an IPC channel to the process; when the channel
 * closes because the driver is gone (killed without cleaning up), the process
 * gets SIGTERM, Hookline's own graceful stop, and is ended for good 15 s
 * later. Nothing else of the process is touched.
 */
if (process.channel) {
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), 15_000).unref();
  });
  // The channel must not keep a process alive that would otherwise exit (e.g. migrate).
  process.channel.unref();
}

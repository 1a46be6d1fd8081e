/**
 * Runs a bench entry point: its resolved number is the exit code; a throw is printed and exits 2
 * (with the usage text after a TypeError, which is how the option parsers report a bad flag).
 */
export function runMain(main, usage) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error?.stack ?? error);
      if (error instanceof TypeError) console.error(usage);
      process.exitCode = 2;
    },
  );
}

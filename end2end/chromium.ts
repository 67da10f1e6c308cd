// How both Playwright configs (the tests and the benchmark) launch Debian's
// Chromium in a container: no sandbox, no GPU, nothing phoning home.
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

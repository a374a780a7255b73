// Opens a reqflo HTML report in headless Chromium (Debian's /usr/bin/chromium)
// and checks what a person would: failed steps start open, a passed step opens
// when its summary is clicked, its request detail becomes visible, and the page
// fetches nothing from the network. Optionally saves a screenshot.
//
// Every check is counted. The count is printed, and written to the file
// named by $REQFLO_BROWSER_CHECKS when that is set: `.ci/run` reads it to
// prove the browser really ran the checks, not only that a test passed.
//
// usage: node expand.mjs REPORT.html [SCREENSHOT.png]
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [, , report, screenshot] = process.argv;
if (!report) {
  console.error('usage: node expand.mjs REPORT.html [SCREENSHOT.png]');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (message) => {
  console.error(message);
  await browser.close();
  process.exit(1);
};
let checks = 0;
const check = async (ok, message) => {
  if (!ok) await fail(message);
  checks += 1;
};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const fetched = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) fetched.push(r.url()); });
  await page.goto('file://' + report);

  // Both kinds of step must be there (a missing one would otherwise only
  // time out below).
  const failedSteps = await page.locator('details.step.failed').count();
  const passedSteps = await page.locator('details.step.passed').count();
  await check(failedSteps > 0 && passedSteps > 0,
    `the report should hold failed and passed steps (${failedSteps} failed, ${passedSteps} passed)`);

  const failed = page.locator('details.step.failed').first();
  await check(await failed.evaluate((d) => d.open), 'a failed step should start open');

  const passed = page.locator('details.step.passed').first();
  await check(!(await passed.evaluate((d) => d.open)), 'a passed step should start closed');
  await check(!(await passed.locator('pre').first().isVisible()), 'closed step shows its detail');
  await passed.locator('summary').click();
  await check(await passed.evaluate((d) => d.open), 'clicking the summary did not open the step');
  await check(await passed.locator('pre').first().isVisible(), 'the request detail is not visible');
  const text = await passed.locator('pre').first().innerText();
  await check(text.includes('[redacted:'), 'the request detail should show a redacted secret');

  // Nothing outside the page was loaded or even asked for.
  await check(fetched.length === 0, 'the page fetched from the network: ' + fetched.join(', '));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  if (process.env.REQFLO_BROWSER_CHECKS) {
    writeFileSync(process.env.REQFLO_BROWSER_CHECKS, `checks: ${checks}\n`);
  }
  console.log(`ok: ${checks} checks: report expands, nothing fetched`);
} finally {
  await browser.close();
}

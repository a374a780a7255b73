// Opens a reqflo HTML report in headless Chromium (Debian's /usr/bin/chromium)
// and checks what a person would: failed steps start open, a passed step opens
// when its summary is clicked, its request detail becomes visible, and the page
// fetches nothing from the network. Optionally saves a screenshot.
//
// usage: node expand.mjs REPORT.html [SCREENSHOT.png]
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
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const fetched = [];
  page.on('request', (r) => { if (!r.url().startsWith('file:')) fetched.push(r.url()); });
  await page.goto('file://' + report);

  const failed = page.locator('details.step.failed').first();
  if (!(await failed.evaluate((d) => d.open))) await fail('a failed step should start open');

  const passed = page.locator('details.step.passed').first();
  if (await passed.evaluate((d) => d.open)) await fail('a passed step should start closed');
  if (await passed.locator('pre').first().isVisible()) await fail('closed step shows its detail');
  await passed.locator('summary').click();
  if (!(await passed.evaluate((d) => d.open))) await fail('clicking the summary did not open the step');
  if (!(await passed.locator('pre').first().isVisible())) await fail('the request detail is not visible');
  const text = await passed.locator('pre').first().innerText();
  if (!text.includes('[redacted:')) await fail('the request detail should show a redacted secret');

  if (fetched.length) await fail('the page fetched from the network: ' + fetched.join(', '));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log('ok: report expands, nothing fetched');
} finally {
  await browser.close();
}

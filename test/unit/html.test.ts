import { expect, test } from 'vitest';
import { html, SafeHtml } from '../../lambdas/registration/html.ts';

test('interpolated values are escaped, fragments built by html are not', () => {
  const name = `<img src=x onerror="alert('x')"> & co`;
  expect(html`<p title="${name}">${name}</p>`.text).toBe(
    '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp; co">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp; co</p>',
  );
  expect(html`<div>${html`<b>${'<i>'}</b>`}</div>`.text).toBe('<div><b>&lt;i&gt;</b></div>');
  expect(html`<ul>${['a', 'b'].map((item) => html`<li>${item}</li>`)}</ul>`.text).toBe('<ul><li>a</li><li>b</li></ul>');
});

test('absent values render nothing; control characters become a visible placeholder', () => {
  expect(html`[${undefined}${null}${false}]`.text).toBe('[]');
  expect(html`${'a\u0000b\u001Bc\td'}`.text).toBe('a\uFFFDb\uFFFDc\td');
  expect(new SafeHtml('<b>').toString()).toBe('<b>');
});

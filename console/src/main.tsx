import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { App } from './app';
import { storeToken } from './api';

// A portal link lands here with its console session in the fragment: keep it for this tab and drop it from the address.
const session = /^#session=(hkc_[A-Za-z0-9_-]+)$/.exec(location.hash);
if (session) {
  storeToken(session[1]!);
  history.replaceState(null, '', `${location.pathname}#/webhooks`);
}

render(<App />, document.getElementById('app')!);

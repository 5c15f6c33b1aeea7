import test from 'ava';
import {clientName} from '../../source/codec/client-name.js';

const id = (prefix: string) => prefix + 'x'.repeat(20 - prefix.length);

test('Azureus-style ids name the client and its version', (t) => {
	t.is(clientName(id('-LT2080-')), 'libtorrent 2.0.8');
	t.is(clientName(id('-qB4650-')), 'qBittorrent 4.6.5');
	t.is(clientName(id('-TR4060-')), 'Transmission 4.0.6');
	t.is(clientName(id('-RX0100-')), 'torrent-rx 0.1.0');
	t.is(clientName(id('-WW0208-')), 'WebTorrent 0.2.0.8');
});

test('an unknown Azureus code is shown as its prefix', (t) => {
	t.is(clientName(id('-ZZ1230-')), '-ZZ1230-');
});

test('aria2 and mainline spell their versions with dashes', (t) => {
	t.is(clientName(id('A2-1-36-0-')), 'aria2 1.36.0');
	t.is(clientName(id('M7-4-3--')), 'BitTorrent 7.4.3');
});

test('random or binary ids show a printable prefix or "unknown"', (t) => {
	t.is(clientName(id('ABCDEFGH')), 'ABCDEFGH');
	t.is(clientName('\u0000\u0001\u00FF'.repeat(7)), 'unknown');
	t.is(clientName(''), 'unknown');
});

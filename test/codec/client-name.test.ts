import test from 'ava';
import {clientName, clientNameFromVersion} from '../../source/codec/client-name.js';

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

test('a client name from the extended handshake reads like the ones from peer ids', (t) => {
	t.is(clientNameFromVersion('libtorrent/2.0.8.0'), 'libtorrent 2.0.8');
	t.is(clientNameFromVersion('aria2/1.36.0'), 'aria2 1.36.0');
	t.is(clientNameFromVersion('Transmission 4.0.6'), 'Transmission 4.0.6');
	t.is(clientNameFromVersion('torrent-rx 0.1.0'), 'torrent-rx 0.1.0');
	t.is(clientNameFromVersion('µTorrent 3.6.0.0'), 'µTorrent 3.6.0');
	t.is(clientNameFromVersion('Deluge 2.1.1.0'), 'Deluge 2.1.1');
});

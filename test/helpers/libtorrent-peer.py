"""A real peer from another implementation, for torrent-rx's interop tests.

  create PAYLOAD TORRENT TRACKER_URL PIECE_LENGTH   make a v1 .torrent of a file or folder
  seed TORRENT SAVE_DIR [checked]                    seed it; prints "ready PORT" once the
                                                     tracker has answered, then runs until killed;
                                                     with "checked", only after hashing every piece
  download TORRENT SAVE_DIR [TIMEOUT]                download it from the swarm; prints
                                                     "done SECONDS" when every piece is in
  infohash TORRENT                                   print libtorrent's info hash (hex)
  create-with PAYLOAD TORRENT OPTIONS_JSON           make a .torrent with libtorrent's defaults
                                                     (hybrid v1+v2, pad files) unless told
                                                     {"v1Only": true}; also pieceLength,
                                                     trackers (tiers), webSeeds, comment, private,
                                                     symlinks (links as BEP 47 links)
  describe TORRENT                                   print, as JSON, what libtorrent reads in it

Run with Debian's /usr/bin/python3 (python3-libtorrent).
"""
import os
import sys
import time

import libtorrent as lt


def create(payload, torrent_path, tracker, piece_length):
    storage = lt.file_storage()
    lt.add_files(storage, payload)
    torrent = lt.create_torrent(storage, int(piece_length), flags=lt.create_torrent.v1_only)
    torrent.add_tracker(tracker)
    torrent.set_creator("libtorrent test helper")
    lt.set_piece_hashes(torrent, os.path.dirname(os.path.abspath(payload)))
    with open(torrent_path, "wb") as out:
        out.write(lt.bencode(torrent.generate()))


def create_with(payload, torrent_path, options_json):
    import json

    options = json.loads(options_json)
    storage = lt.file_storage()
    # {"symlinks": true}: links in the payload become BEP 47 links (attr "l", "symlink path",
    # the link's text as it stands on disk) instead of copies of what they point to.
    links = lt.create_torrent.symlinks if options.get("symlinks") else 0
    lt.add_files(storage, payload, flags=links)
    flags = (lt.create_torrent.v1_only if options.get("v1Only") else 0) | links
    torrent = lt.create_torrent(storage, int(options.get("pieceLength", 0)), flags=flags)
    for tier, urls in enumerate(options.get("trackers", [])):
        for url in urls:
            torrent.add_tracker(url, tier)
    for url in options.get("webSeeds", []):
        torrent.add_url_seed(url)
    if "comment" in options:
        torrent.set_comment(options["comment"])
    torrent.set_creator(options.get("creator", "libtorrent test helper"))
    if options.get("private"):
        torrent.set_priv(True)
    lt.set_piece_hashes(torrent, os.path.dirname(os.path.abspath(payload)))
    with open(torrent_path, "wb") as out:
        out.write(lt.bencode(torrent.generate()))


def described(files, index):
    """A file as describe prints it; a BEP 47 link with its target as libtorrent resolved it (a
    target it refuses, outside the torrent or naming nothing in it, becomes the link itself)."""
    entry = {"path": files.file_path(index), "size": files.file_size(index)}
    if files.file_flags(index) & lt.file_storage.flag_symlink:
        entry["symlink"] = files.symlink(index)
    return entry


def describe(torrent_path):
    import json

    info = lt.torrent_info(torrent_path)
    hashes = info.info_hashes()
    files = info.files()
    pad = lt.file_storage.flag_pad_file
    real = [index for index in range(files.num_files()) if not files.file_flags(index) & pad]
    print(json.dumps({
        "name": info.name(),
        "infoHash": str(hashes.v1),
        "infoHashV2": str(hashes.v2) if hashes.has_v2() else None,
        "totalSize": sum(files.file_size(index) for index in real),
        "pieceLength": info.piece_length(),
        "pieceCount": info.num_pieces(),
        "private": info.priv(),
        "trackers": [{"url": entry.url, "tier": entry.tier} for entry in info.trackers()],
        "webSeeds": [seed["url"] for seed in info.web_seeds()],
        "creationDate": info.creation_date(),
        "createdBy": info.creator(),
        "comment": info.comment(),
        "files": [described(files, index) for index in real],
        "padFiles": files.num_files() - len(real),
    }))


# What the commands below read. Per-block and per-piece alerts would cost the Python loop more
# than libtorrent spends on the transfer itself.
ALERTS = (
    lt.alert.category_t.error_notification
    | lt.alert.category_t.status_notification
    | lt.alert.category_t.tracker_notification
    | lt.alert.category_t.connect_notification
    | lt.alert.category_t.peer_notification
    | lt.alert.category_t.storage_notification
)


def encryption_settings():
    """TORRENT_RX_LT_ENCRYPTION=forced: MSE/PE with RC4 only, both ways, as a "require encryption"
    client is set (libtorrent drops every plaintext connection, and offers nothing but RC4).
    =disabled: plaintext only, as a client that never learnt MSE/PE (it hangs up on one)."""
    policy = os.environ.get("TORRENT_RX_LT_ENCRYPTION")
    if policy == "disabled":
        return {
            "out_enc_policy": int(lt.enc_policy.disabled),
            "in_enc_policy": int(lt.enc_policy.disabled),
        }
    if policy != "forced":
        return {}
    return {
        "out_enc_policy": int(lt.enc_policy.forced),
        "in_enc_policy": int(lt.enc_policy.forced),
        "allowed_enc_level": int(lt.enc_level.rc4),
        "prefer_rc4": True,
    }


def make_session():
    return lt.session({
        **encryption_settings(),
        "listen_interfaces": "127.0.0.1:0",
        # TCP only, as torrent-rx and aria2c: libtorrent's uTP over loopback crawls (about 8 MB/s here).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": ALERTS,
    })


def seed_flags(checked):
    """Seed mode trusts the files and hashes each piece the first time it is sent: cheap to start,
    but the first downloader pays for that hashing. "checked" hashes them all before seeding, so
    that every downloader of a benchmark meets the same seeder."""
    if checked == "checked":
        return 0
    if checked:
        raise SystemExit("unknown option " + checked)
    return lt.torrent_flags.seed_mode


def seed(torrent_path, save_dir, checked=""):
    session = make_session()
    info = lt.torrent_info(torrent_path)
    handle = session.add_torrent({"ti": info, "save_path": save_dir, "flags": seed_flags(checked)})
    # Ready = seeding and known to the tracker. The reply may come in the same alert batch that
    # ends the check, so every batch is read for it: a reply thrown away there is not repeated
    # for the tracker's min interval (900 s from opentracker), and a forced re-announce waits for it.
    replied = False
    deadline = time.time() + 120
    while time.time() < deadline:
        session.wait_for_alert(500)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.tracker_error_alert):
                print("tracker error", alert.message(), file=sys.stderr, flush=True)
            if isinstance(alert, lt.tracker_reply_alert):
                replied = True
        if replied and handle.status().is_seeding:
            print("ready", session.listen_port(), flush=True)
            while True:
                session.wait_for_alert(1000)
                session.pop_alerts()
    print("no tracker reply within 120 s", file=sys.stderr, flush=True)
    sys.exit(1)


def seed_quietly(torrent_path, save_dir, checked=""):
    """Seeds without announcing to the torrent's trackers: only whoever is told its port finds it.
    Ready as soon as it listens (with "checked", once every piece is hashed)."""
    session = make_session()
    # Added paused (and not auto-managed) so that no announce goes out before the trackers are gone.
    handle = session.add_torrent({
        "ti": lt.torrent_info(torrent_path),
        "save_path": save_dir,
        "flags": seed_flags(checked) | lt.torrent_flags.paused,
    })
    handle.replace_trackers([])
    handle.resume()
    while not handle.status().is_seeding:
        session.wait_for_alert(200)
        session.pop_alerts()
    print("ready", session.listen_port(), flush=True)
    while True:
        session.wait_for_alert(1000)
        session.pop_alerts()


def is_checking(handle):
    """Still checking: libtorrent resets every incoming connection for the torrent until it is done."""
    return handle.status().state in (lt.torrent_status.checking_resume_data, lt.torrent_status.checking_files)


def is_connected_to(handle, port):
    """Past checking, and past the BitTorrent handshake with the peer at 127.0.0.1:port."""
    if is_checking(handle):
        return False
    pending = lt.peer_info.connecting | lt.peer_info.handshake
    return any(peer.ip == ("127.0.0.1", port) and not peer.flags & pending for peer in handle.get_peer_info())


def leech_slowly(torrent_path, save_dir, peer_port, rate):
    """Downloads at `rate` bytes a second from the peer at 127.0.0.1:peer_port (and the tracker's),
    staying a leecher long enough to tell others about that peer by PEX (BEP 11). Ready once
    connected to that peer."""
    session = make_session()
    # Rate limits skip peers on the local network unless told otherwise; here everything is.
    session.apply_settings({"ignore_limits_on_local_network": False})
    handle = session.add_torrent({"ti": lt.torrent_info(torrent_path), "save_path": save_dir})
    handle.set_download_limit(int(rate))
    handle.connect_peer(("127.0.0.1", int(peer_port)))
    # Ready once it can take peers and has the one it is to tell of. A torrent still checking its
    # resume data hangs up on every incoming peer (the run it was named to would then have nobody),
    # and what it sends by PEX before it holds the seeder's connection does not name the seeder:
    # libtorrent's next PEX message comes a minute later.
    deadline = time.time() + 15
    while not is_connected_to(handle, int(peer_port)):
        if time.time() > deadline:
            raise SystemExit("not connected to 127.0.0.1:%s within 15 s" % peer_port)
        session.wait_for_alert(100)
        session.pop_alerts()
    print("ready", session.listen_port(), flush=True)
    while True:
        session.wait_for_alert(1000)
        session.pop_alerts()


def seed_dht(torrent_path, save_dir, bootstrap_port):
    """Seeds with the DHT on, joined through a node on 127.0.0.1:bootstrap_port (no tracker needed)."""
    session = lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": True,
        "dht_bootstrap_nodes": "127.0.0.1:" + bootstrap_port,
        # Everything here is on one address: let the DHT keep and return loopback nodes and peers.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_enforce_node_id": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        # TCP only, and only the alerts the loop needs: with every category on (peer, DHT and picker
        # logs) this seeder sometimes sat on requests for most of a minute.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": ALERTS,
    })
    info = lt.torrent_info(torrent_path)
    handle = session.add_torrent({"ti": info, "save_path": save_dir, "flags": lt.torrent_flags.seed_mode})
    while is_checking(handle):
        session.wait_for_alert(100)
        session.pop_alerts()
    print("ready", session.listen_port(), flush=True)
    # Announce again every two seconds for a while: the test's DHT is being built as we go.
    started = time.time()
    while True:
        session.wait_for_alert(2000)
        session.pop_alerts()
        if time.time() - started < 30:
            handle.force_dht_announce()


def download(torrent_path, save_dir, timeout="120"):
    """Downloads a .torrent, or a magnet link (its metadata fetched from the peers, BEP 9)."""
    session = make_session()
    started = time.time()
    if torrent_path.startswith("magnet:"):
        params = lt.parse_magnet_uri(torrent_path)
        params.save_path = save_dir
        handle = session.add_torrent(params)
    else:
        handle = session.add_torrent({"ti": lt.torrent_info(torrent_path), "save_path": save_dir})
    while time.time() - started < float(timeout):
        session.wait_for_alert(200)
        for alert in session.pop_alerts():
            if isinstance(alert, (lt.tracker_error_alert, lt.peer_disconnected_alert)):
                print(alert.message(), file=sys.stderr, flush=True)
        if handle.status().is_seeding:
            print("done", round(time.time() - started, 3), flush=True)
            return
    print("not complete within", timeout, "s:", handle.status().progress, file=sys.stderr, flush=True)
    sys.exit(1)


def infohash(torrent_path):
    print(str(lt.torrent_info(torrent_path).info_hash()))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {
        "create": create,
        "seed": seed,
        "seed-dht": seed_dht,
        "seed-quietly": seed_quietly,
        "leech-slowly": leech_slowly,
        "download": download,
        "infohash": infohash,
        "create-with": create_with,
        "describe": describe,
    }[command](*arguments)

// ns-3 peer of podwire's bridge LAN benchmark: one node, H pods on one Linux
// bridge (cni0), every pod pinging the next pod (ring), `count` pings
// `interval` apart; prints one JSON line (peer-kit.h, PrintReport).
//
//   pod k (10.244.0.k+2) --"veth"-- port k --+
//                                            BridgeNetDevice cni0 10.244.0.1  [node]
//   pod k+1              --"veth"-- port k+1 +
//
// A "veth" is a two-device link (--link csma or simple, peer-kit.h) with no
// line rate and a 2 us delay.
//
// podwire's scenario (podwire-side.mjs): nodes: [{name: n1, podCIDR:
// 10.244.0.0/<len>, pods: p1..pH}], pingAll {pattern: ring}, vethDelay 2us.
// Each ns-3 Node is one network namespace: the pods, and the node whose bridge
// holds the gateway address (it receives the ARP broadcasts, as cni0 does).

#include "peer-kit.h"

#include "ns3/bridge-module.h"

using namespace ns3;

int
main(int argc, char* argv[])
{
    podwire::Clock::time_point t0 = podwire::Clock::now();
    uint32_t hosts = 100;
    uint32_t count = 10;
    Time interval = MilliSeconds(100);
    Time vethDelay = MicroSeconds(2);
    Time duration = MilliSeconds(1100);
    bool arpMerge = true;
    std::string link = "csma";

    CommandLine cmd(__FILE__);
    cmd.AddValue("hosts", "pods on the bridge (H)", hosts);
    cmd.AddValue("count", "echo requests per pod", count);
    cmd.AddValue("interval", "time between a pod's requests", interval);
    cmd.AddValue("vethDelay", "one-way delay of each veth pair", vethDelay);
    cmd.AddValue("duration", "simulated time", duration);
    cmd.AddValue("arpMerge", "targets of ARP requests learn the sender (RFC 826, Linux)", arpMerge);
    cmd.AddValue("link", "link model: csma (half duplex) or simple (full duplex)", link);
    cmd.Parse(argc, argv);
    podwire::LinkModel linkModel;
    if (!podwire::ParseLinkModel(link, &linkModel))
    {
        std::fprintf(stderr, "--link must be csma or simple, got %s\n", link.c_str());
        return 2;
    }
    if (hosts < 2 || count < 1)
    {
        std::fprintf(stderr, "bridged-lan: need --hosts >= 2 and --count >= 1\n");
        return 2;
    }

    podwire::ConfigureArp();

    // 10.244.0.0/len holding the gateway (.1) and H pods, like podwire-side.mjs.
    uint32_t len = 30;
    while (len > 8 && (1u << (32 - len)) < hosts + 3)
    {
        len--;
    }
    Ipv4Mask mask(("/" + std::to_string(len)).c_str());
    auto hostAddr = [](uint32_t n) { return Ipv4Address((10u << 24) | (244u << 16) | n); };

    Ptr<Node> node = CreateObject<Node>();
    NodeContainer pods;
    pods.Create(hosts);

    podwire::Links veth(linkModel, "0bps", vethDelay);
    NetDeviceContainer podEth0;
    NetDeviceContainer ports;
    for (uint32_t k = 0; k < hosts; k++)
    {
        NetDeviceContainer pair = veth.Connect(pods.Get(k), node);
        podEth0.Add(pair.Get(0));
        ports.Add(pair.Get(1));
    }
    BridgeHelper bridgeHelper;
    NetDeviceContainer cni0 = bridgeHelper.Install(node, ports);

    NodeContainer all(node);
    all.Add(pods);
    podwire::InstallStack(all);
    podwire::AddInterface(cni0.Get(0), hostAddr(1), mask);
    for (uint32_t k = 0; k < hosts; k++)
    {
        uint32_t i = podwire::AddInterface(podEth0.Get(k), hostAddr(k + 2), mask);
        podwire::StaticRouting(pods.Get(k))->SetDefaultRoute(hostAddr(1), i);
    }
    if (arpMerge)
    {
        for (uint32_t n = 0; n < all.GetN(); n++)
        {
            podwire::InstallRfc826Merge(all.Get(n));
        }
    }

    for (uint32_t k = 0; k < hosts; k++)
    {
        podwire::InstallPing(pods.Get(k),
                             hostAddr((k + 1) % hosts + 2),
                             podwire::StaggeredStartNs(k, hosts, interval),
                             count,
                             interval);
    }

    double buildSeconds = podwire::SecondsSince(t0);
    Simulator::Stop(duration);
    podwire::Clock::time_point t1 = podwire::Clock::now();
    Simulator::Run();
    double wallSeconds = podwire::SecondsSince(t1);

    podwire::RunReport r;
    r.topology = "bridged-lan";
    r.link = podwire::LinkModelName(linkModel);
    r.size = "H=" + std::to_string(hosts);
    r.pods = hosts;
    r.events = Simulator::GetEventCount();
    r.frameHops = podwire::g_frameHops;
    r.echoRequests = static_cast<uint64_t>(hosts) * count;
    r.echoReplies = podwire::g_echoReplies;
    r.simulatedSeconds = Simulator::Now().GetSeconds();
    r.wallSeconds = wallSeconds;
    r.buildSeconds = buildSeconds;
    r.maxRssKiB = podwire::MaxRssKiB();
    podwire::PrintReport(r);
    Simulator::Destroy();
    return 0;
}

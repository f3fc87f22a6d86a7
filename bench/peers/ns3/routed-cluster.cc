// ns-3 peer of podwire's routed cluster benchmark: K nodes of P pods, the pods
// of a node on its bridge (cni0), the nodes' NICs (eth0) wired to an underlay
// switch (a bridge, br0), host-gw routes; every pod pings the same-numbered pod
// on the next node (cross-node), `count` pings `interval` apart; prints one
// JSON line (peer-kit.h, PrintReport).
//
//   pod j of node i  10.244.(i+1).(j+2) --veth-- port --+ cni0 10.244.(i+1).1
//                                                       [node i] eth0 192.168.49.(i+2)
//                                          --wire 10 Gbit/s, 20 us-- port i of br0 192.168.49.1 [underlay]
//
// Addresses, routes and link parameters are those podwire's expansion gives
// `scale: {nodes: K, podsPerNode: P}` (scenarios/expand.ts, scenario format):
// pods route 0/0 via their cni0 address; node i routes every other node's pod
// /24 via that node's eth0 address, and 0/0 via the underlay gateway.

#include "peer-kit.h"

#include "ns3/bridge-module.h"

using namespace ns3;

int
main(int argc, char* argv[])
{
    podwire::Clock::time_point t0 = podwire::Clock::now();
    uint32_t nodes = 10;
    uint32_t podsPerNode = 30;
    uint32_t count = 10;
    Time interval = MilliSeconds(100);
    Time vethDelay = MicroSeconds(2);
    Time wireDelay = MicroSeconds(20);
    std::string wireRate = "10Gbps";
    Time duration = MilliSeconds(1100);
    bool arpMerge = true;
    std::string link = "csma";

    CommandLine cmd(__FILE__);
    cmd.AddValue("nodes", "nodes (K)", nodes);
    cmd.AddValue("podsPerNode", "pods on each node (P)", podsPerNode);
    cmd.AddValue("count", "echo requests per pod", count);
    cmd.AddValue("interval", "time between a pod's requests", interval);
    cmd.AddValue("vethDelay", "one-way delay of each veth pair", vethDelay);
    cmd.AddValue("wireDelay", "one-way delay of each node's wire to the underlay switch", wireDelay);
    cmd.AddValue("wireRate", "line rate of the node wires", wireRate);
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
    if (nodes < 2 || nodes > 253 || podsPerNode < 1 || podsPerNode > 253 || count < 1)
    {
        std::fprintf(stderr,
                     "routed-cluster: need 2 <= --nodes <= 253, 1 <= --podsPerNode <= 253, --count >= 1\n");
        return 2;
    }

    podwire::ConfigureArp();
    Ipv4Mask podMask("/24");
    Ipv4Mask underlayMask("/24");
    Ipv4Address gateway = podwire::Ipv4(192, 168, 49, 1);
    auto nodeAddr = [](uint32_t i) { return podwire::Ipv4(192, 168, 49, i + 2); };
    auto podNet = [](uint32_t i) { return podwire::Ipv4(10, 244, i + 1, 0); };
    auto cni0Addr = [](uint32_t i) { return podwire::Ipv4(10, 244, i + 1, 1); };
    auto podAddr = [](uint32_t i, uint32_t j) { return podwire::Ipv4(10, 244, i + 1, j + 2); };

    Ptr<Node> underlay = CreateObject<Node>();
    NodeContainer hosts;
    hosts.Create(nodes);
    std::vector<NodeContainer> pods(nodes);

    podwire::Links veth(linkModel, "0bps", vethDelay);
    podwire::Links wire(linkModel, wireRate, wireDelay);
    BridgeHelper bridgeHelper;
    NetDeviceContainer eth0;
    NetDeviceContainer underlayPorts;
    std::vector<NetDeviceContainer> podEth0(nodes);
    NetDeviceContainer cni0;
    for (uint32_t i = 0; i < nodes; i++)
    {
        pods[i].Create(podsPerNode);
        NetDeviceContainer ports;
        for (uint32_t j = 0; j < podsPerNode; j++)
        {
            NetDeviceContainer pair = veth.Connect(pods[i].Get(j), hosts.Get(i));
            podEth0[i].Add(pair.Get(0));
            ports.Add(pair.Get(1));
        }
        cni0.Add(bridgeHelper.Install(hosts.Get(i), ports));
        NetDeviceContainer w = wire.Connect(hosts.Get(i), underlay);
        eth0.Add(w.Get(0));
        underlayPorts.Add(w.Get(1));
    }
    NetDeviceContainer br0 = bridgeHelper.Install(underlay, underlayPorts);

    NodeContainer all(underlay);
    all.Add(hosts);
    for (uint32_t i = 0; i < nodes; i++)
    {
        all.Add(pods[i]);
    }
    podwire::InstallStack(all);

    podwire::AddInterface(br0.Get(0), gateway, underlayMask);
    for (uint32_t i = 0; i < nodes; i++)
    {
        Ptr<Node> host = hosts.Get(i);
        podwire::AddInterface(cni0.Get(i), cni0Addr(i), podMask);
        uint32_t eth0If = podwire::AddInterface(eth0.Get(i), nodeAddr(i), underlayMask);
        Ptr<Ipv4StaticRouting> rt = podwire::StaticRouting(host);
        rt->SetDefaultRoute(gateway, eth0If);
        for (uint32_t m = 0; m < nodes; m++)
        {
            if (m != i)
            {
                rt->AddNetworkRouteTo(podNet(m), podMask, nodeAddr(m), eth0If);
            }
        }
        for (uint32_t j = 0; j < podsPerNode; j++)
        {
            uint32_t podIf = podwire::AddInterface(podEth0[i].Get(j), podAddr(i, j), podMask);
            podwire::StaticRouting(pods[i].Get(j))->SetDefaultRoute(cni0Addr(i), podIf);
        }
    }
    if (arpMerge)
    {
        for (uint32_t n = 0; n < all.GetN(); n++)
        {
            podwire::InstallRfc826Merge(all.Get(n));
        }
    }

    // Flows in pod order (node by node, pod by pod): pod j of node i -> pod j of node i+1.
    uint64_t flows = static_cast<uint64_t>(nodes) * podsPerNode;
    for (uint32_t i = 0; i < nodes; i++)
    {
        for (uint32_t j = 0; j < podsPerNode; j++)
        {
            uint64_t k = static_cast<uint64_t>(i) * podsPerNode + j;
            podwire::InstallPing(pods[i].Get(j),
                                 podAddr((i + 1) % nodes, j),
                                 podwire::StaggeredStartNs(k, flows, interval),
                                 count,
                                 interval);
        }
    }

    double buildSeconds = podwire::SecondsSince(t0);
    Simulator::Stop(duration);
    podwire::Clock::time_point t1 = podwire::Clock::now();
    Simulator::Run();
    double wallSeconds = podwire::SecondsSince(t1);

    podwire::RunReport r;
    r.topology = "routed-cluster";
    r.link = podwire::LinkModelName(linkModel);
    r.size = std::to_string(nodes) + "x" + std::to_string(podsPerNode);
    r.pods = flows;
    r.events = Simulator::GetEventCount();
    r.frameHops = podwire::g_frameHops;
    r.echoRequests = flows * count;
    r.echoReplies = podwire::g_echoReplies;
    r.simulatedSeconds = Simulator::Now().GetSeconds();
    r.wallSeconds = wallSeconds;
    r.buildSeconds = buildSeconds;
    r.maxRssKiB = podwire::MaxRssKiB();
    podwire::PrintReport(r);
    Simulator::Destroy();
    return 0;
}

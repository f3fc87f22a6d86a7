// What both ns-3 peers of podwire's simulation benchmark share: the two kinds
// of link (a veth pair, a node's wire), interface configuration, the pings,
// frame-hop counting and the one-line JSON report.
#ifndef PODWIRE_NS3_PEER_KIT_H
#define PODWIRE_NS3_PEER_KIT_H

#include "rfc826-merge.h"

#include "ns3/core-module.h"
#include "ns3/csma-module.h"
#include "ns3/error-model.h"
#include "ns3/internet-module.h"
#include "ns3/simple-net-device-helper.h"
#include "ns3/simple-net-device.h"
#include "ns3/v4ping-helper.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace podwire
{

using Clock = std::chrono::steady_clock;

inline double
SecondsSince(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

/**
 * The link model under every veth pair and node wire. Both can be bridge ports
 * (BridgeNetDevice needs SupportsSendFrom; PointToPointNetDevice has not):
 * - csma: CsmaNetDevice on a two-device CsmaChannel, ns-3's Ethernet. The
 *   channel is a half-duplex bus: it is busy for the frame time plus the
 *   propagation delay, and a device that finds it busy backs off (binary
 *   exponential, 1 us slots), so a 20 us wire carries one direction at a time.
 * - simple: SimpleNetDevice on a SimpleChannel, full duplex: a drop-tail queue,
 *   serialisation at DataRate (0 = none), then the channel's Delay; it carries
 *   the Ethernet addresses in a packet tag, so frames are 14 bytes shorter on
 *   the wire. podwire's links are full duplex (models/devices/nic.ts, veth.ts).
 */
enum class LinkModel
{
    Csma,
    Simple,
};

inline bool
ParseLinkModel(const std::string& s, LinkModel* out)
{
    if (s == "csma")
    {
        *out = LinkModel::Csma;
        return true;
    }
    if (s == "simple")
    {
        *out = LinkModel::Simple;
        return true;
    }
    return false;
}

inline const char*
LinkModelName(LinkModel m)
{
    return m == LinkModel::Csma ? "csma" : "simple";
}

/** Frame-hops: frames delivered by a channel to a device other than their sender. */
inline uint64_t g_frameHops = 0;

inline void
CountHop(ns3::Ptr<const ns3::Packet>)
{
    g_frameHops++;
}

/**
 * SimpleNetDevice has no receive trace, but SimpleNetDevice::Receive asks its
 * receive error model about every frame the channel delivers, first thing:
 * this one counts and never corrupts.
 */
class FrameHopCounter : public ns3::ErrorModel
{
  public:
    static ns3::TypeId GetTypeId()
    {
        static ns3::TypeId tid = ns3::TypeId("podwire::FrameHopCounter")
                                     .SetParent<ns3::ErrorModel>()
                                     .AddConstructor<FrameHopCounter>();
        return tid;
    }

  private:
    bool DoCorrupt(ns3::Ptr<ns3::Packet>) override
    {
        g_frameHops++;
        return false;
    }

    void DoReset() override
    {
    }
};

/**
 * Counts every frame a device receives from its channel, once. On CSMA that is
 * PhyRxEnd: CsmaNetDevice::Receive fires it first thing for every frame the
 * channel delivers to a device other than the sender, before any address
 * filtering, so a bridge port counts the frames it receives for other hosts
 * too (MacRx would miss those: they only reach the promiscuous bridge
 * callback). With two devices per channel, that is one count per frame per
 * link crossed, which is what podwire's veth and NIC rx counters count.
 */
inline void
CountFrameHops(ns3::Ptr<ns3::NetDevice> dev)
{
    static ns3::Ptr<FrameHopCounter> counter = ns3::CreateObject<FrameHopCounter>();
    if (ns3::Ptr<ns3::SimpleNetDevice> simple = ns3::DynamicCast<ns3::SimpleNetDevice>(dev))
    {
        simple->SetReceiveErrorModel(counter);
    }
    else
    {
        dev->TraceConnectWithoutContext("PhyRxEnd", ns3::MakeCallback(&CountHop));
    }
}

/**
 * Makes links of one kind: a line rate ("0" = none: podwire's veth), a one-way
 * delay and a drop-tail transmit queue of txqueuelen 1000 frames. Both ends'
 * receptions are counted as frame-hops.
 */
class Links
{
  public:
    Links(LinkModel model, const std::string& rate, ns3::Time delay)
        : m_model(model)
    {
        ns3::DataRate bps(rate);
        if (model == LinkModel::Csma)
        {
            // CSMA needs a rate; one this high makes a frame take about a nanosecond.
            if (bps.GetBitRate() == 0)
            {
                bps = ns3::DataRate("1000Gbps");
            }
            m_csma.SetChannelAttribute("DataRate", ns3::DataRateValue(bps));
            m_csma.SetChannelAttribute("Delay", ns3::TimeValue(delay));
            m_csma.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::StringValue("1000p"));
        }
        else
        {
            m_simple.SetDeviceAttribute("DataRate", ns3::DataRateValue(bps));
            m_simple.SetChannelAttribute("Delay", ns3::TimeValue(delay));
            m_simple.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", ns3::StringValue("1000p"));
        }
    }

    /** Joins `a` and `b`; returns their devices, a's first. */
    ns3::NetDeviceContainer Connect(ns3::Ptr<ns3::Node> a, ns3::Ptr<ns3::Node> b) const
    {
        ns3::NodeContainer ends(a, b);
        ns3::NetDeviceContainer devs =
            m_model == LinkModel::Csma ? m_csma.Install(ends) : m_simple.Install(ends);
        CountFrameHops(devs.Get(0));
        CountFrameHops(devs.Get(1));
        return devs;
    }

  private:
    LinkModel m_model;
    ns3::CsmaHelper m_csma;
    ns3::SimpleNetDeviceHelper m_simple;
};

/** The stack on every node: IPv4 with static routes only (no IPv6, no global routing). */
inline void
InstallStack(ns3::NodeContainer nodes)
{
    ns3::InternetStackHelper stack;
    ns3::Ipv4StaticRoutingHelper staticRouting;
    stack.SetRoutingHelper(staticRouting);
    stack.SetIpv6StackInstall(false);
    stack.Install(nodes);
}

/**
 * `ip addr add A/len dev D; ip link set D up`. Done by hand rather than with
 * Ipv4AddressHelper, which would also put a queue disc (FqCoDel) on every
 * device: podwire's veths have no qdisc (Linux veth is noqueue) and its NICs a
 * plain drop-tail queue of txqueuelen frames, which is the CSMA device queue.
 */
inline uint32_t
AddInterface(ns3::Ptr<ns3::NetDevice> dev, ns3::Ipv4Address addr, ns3::Ipv4Mask mask)
{
    ns3::Ptr<ns3::Ipv4> ip = dev->GetNode()->GetObject<ns3::Ipv4>();
    uint32_t i = ip->AddInterface(dev);
    ip->AddAddress(i, ns3::Ipv4InterfaceAddress(addr, mask));
    ip->SetMetric(i, 1);
    ip->SetUp(i);
    return i;
}

inline ns3::Ptr<ns3::Ipv4StaticRouting>
StaticRouting(ns3::Ptr<ns3::Node> node)
{
    ns3::Ipv4StaticRoutingHelper h;
    return h.GetStaticRouting(node->GetObject<ns3::Ipv4>());
}

/** a.b.c.d from four octets. */
inline ns3::Ipv4Address
Ipv4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return ns3::Ipv4Address((a << 24) | (b << 16) | (c << 8) | d);
}

/** Echo replies received by all pingers (V4Ping's Rtt trace fires once per matched reply). */
inline uint64_t g_echoReplies = 0;

inline void
CountReply(ns3::Time)
{
    g_echoReplies++;
}

/**
 * `ping -c count -i interval` from `src` to `dst`, first request at `startNs`.
 * V4Ping (ns-3 3.37) has no count: it sends at start and every interval until
 * stopped, so it stops half an interval after the last request.
 */
inline void
InstallPing(ns3::Ptr<ns3::Node> src, ns3::Ipv4Address dst, int64_t startNs, uint32_t count, ns3::Time interval)
{
    ns3::V4PingHelper h(dst);
    h.SetAttribute("Interval", ns3::TimeValue(interval));
    h.SetAttribute("Size", ns3::UintegerValue(56));
    ns3::ApplicationContainer apps = h.Install(src);
    apps.Start(ns3::NanoSeconds(startNs));
    int64_t intervalNs = interval.GetNanoSeconds();
    apps.Stop(ns3::NanoSeconds(startNs + intervalNs * (count - 1) + intervalNs / 2));
    apps.Get(0)->TraceConnectWithoutContext("Rtt", ns3::MakeCallback(&CountReply));
}

/** pingAll's stagger (scenario format): flow k starts at k * interval / flows, rounded to ns. */
inline int64_t
StaggeredStartNs(uint64_t k, uint64_t flows, ns3::Time interval)
{
    return static_cast<int64_t>(
        std::llround(static_cast<double>(k) * static_cast<double>(interval.GetNanoSeconds()) /
                     static_cast<double>(flows)));
}

/**
 * ARP as Linux does it (podwire models/stack/neighbour.ts): a request goes out
 * at once (ns-3 waits 0-10 ms of random jitter) and up to 101 packets wait for
 * a resolution (unres_qlen; ns-3 keeps 3 and drops the rest, which loses the
 * pings that reach a node while its first ARP for the next node is out).
 */
inline void
ConfigureArp()
{
    ns3::Config::SetDefault("ns3::ArpL3Protocol::RequestJitter",
                            ns3::StringValue("ns3::ConstantRandomVariable[Constant=0.0]"));
    ns3::Config::SetDefault("ns3::ArpCache::PendingQueueSize", ns3::UintegerValue(101));
}

/** Peak resident set of this process in KiB (getrusage(2): ru_maxrss is KiB on Linux). */
inline long
MaxRssKiB()
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct RunReport
{
    std::string topology;
    std::string size;
    std::string link;
    uint64_t pods;
    uint64_t events;
    uint64_t frameHops;
    uint64_t echoRequests;
    uint64_t echoReplies;
    double simulatedSeconds;
    double wallSeconds;
    double buildSeconds;
    long maxRssKiB;
};

/** The one JSON line both peers print (podwire-side.mjs prints the same keys). */
inline void
PrintReport(const RunReport& r)
{
    std::printf("{\"sim\":\"ns-3\",\"version\":\"3.37\",\"topology\":\"%s\",\"size\":\"%s\",\"link\":\"%s\",\"pods\":%llu,"
                "\"events\":%llu,\"frameHops\":%llu,\"echoRequests\":%llu,\"echoReplies\":%llu,"
                "\"simulatedSeconds\":%.6f,\"wallSeconds\":%.6f,\"buildSeconds\":%.6f,\"maxRssKiB\":%ld}\n",
                r.topology.c_str(),
                r.size.c_str(),
                r.link.c_str(),
                static_cast<unsigned long long>(r.pods),
                static_cast<unsigned long long>(r.events),
                static_cast<unsigned long long>(r.frameHops),
                static_cast<unsigned long long>(r.echoRequests),
                static_cast<unsigned long long>(r.echoReplies),
                r.simulatedSeconds,
                r.wallSeconds,
                r.buildSeconds,
                r.maxRssKiB);
}

} // namespace podwire

#endif

# ruff: noqa  -- corpus data: deliberately unidiomatic code for the engine to get right
"""Big literals: long dict/list/set displays and long if/elif chains (long jumps)."""

TABLE = {
    "k0": 0,
    "k1": 1,
    "k2": 2,
    "k3": 3,
    "k4": 4,
    "k5": 5,
    "k6": 6,
    "k7": 7,
    "k8": 8,
    "k9": 9,
    "k10": 10,
    "k11": 11,
    "k12": 12,
    "k13": 13,
    "k14": 14,
    "k15": 15,
    "k16": 16,
    "k17": 17,
    "k18": 18,
    "k19": 19,
    "k20": 20,
    "k21": 21,
    "k22": 22,
    "k23": 23,
    "k24": 24,
    "k25": 25,
    "k26": 26,
    "k27": 27,
    "k28": 28,
    "k29": 29,
    "k30": 30,
    "k31": 31,
    "k32": 32,
    "k33": 33,
    "k34": 34,
    "k35": 35,
    "k36": 36,
    "k37": 37,
    "k38": 38,
    "k39": 39,
    "k40": 40,
    "k41": 41,
    "k42": 42,
    "k43": 43,
    "k44": 44,
    "k45": 45,
    "k46": 46,
    "k47": 47,
    "k48": 48,
    "k49": 49,
    "k50": 50,
    "k51": 51,
    "k52": 52,
    "k53": 53,
    "k54": 54,
    "k55": 55,
    "k56": 56,
    "k57": 57,
    "k58": 58,
    "k59": 59,
    "k60": 60,
    "k61": 61,
    "k62": 62,
    "k63": 63,
    "k64": 64,
    "k65": 65,
    "k66": 66,
    "k67": 67,
    "k68": 68,
    "k69": 69,
    "k70": 70,
    "k71": 71,
    "k72": 72,
    "k73": 73,
    "k74": 74,
    "k75": 75,
    "k76": 76,
    "k77": 77,
    "k78": 78,
    "k79": 79,
    "k80": 80,
    "k81": 81,
    "k82": 82,
    "k83": 83,
    "k84": 84,
    "k85": 85,
    "k86": 86,
    "k87": 87,
    "k88": 88,
    "k89": 89,
    "k90": 90,
    "k91": 91,
    "k92": 92,
    "k93": 93,
    "k94": 94,
    "k95": 95,
    "k96": 96,
    "k97": 97,
    "k98": 98,
    "k99": 99,
    "k100": 100,
    "k101": 101,
    "k102": 102,
    "k103": 103,
    "k104": 104,
    "k105": 105,
    "k106": 106,
    "k107": 107,
    "k108": 108,
    "k109": 109,
    "k110": 110,
    "k111": 111,
    "k112": 112,
    "k113": 113,
    "k114": 114,
    "k115": 115,
    "k116": 116,
    "k117": 117,
    "k118": 118,
    "k119": 119,
    "k120": 120,
    "k121": 121,
    "k122": 122,
    "k123": 123,
    "k124": 124,
    "k125": 125,
    "k126": 126,
    "k127": 127,
    "k128": 128,
    "k129": 129,
    "k130": 130,
    "k131": 131,
    "k132": 132,
    "k133": 133,
    "k134": 134,
    "k135": 135,
    "k136": 136,
    "k137": 137,
    "k138": 138,
    "k139": 139,
    "k140": 140,
    "k141": 141,
    "k142": 142,
    "k143": 143,
    "k144": 144,
    "k145": 145,
    "k146": 146,
    "k147": 147,
    "k148": 148,
    "k149": 149,
    "k150": 150,
    "k151": 151,
    "k152": 152,
    "k153": 153,
    "k154": 154,
    "k155": 155,
    "k156": 156,
    "k157": 157,
    "k158": 158,
    "k159": 159,
    "k160": 160,
    "k161": 161,
    "k162": 162,
    "k163": 163,
    "k164": 164,
    "k165": 165,
    "k166": 166,
    "k167": 167,
    "k168": 168,
    "k169": 169,
    "k170": 170,
    "k171": 171,
    "k172": 172,
    "k173": 173,
    "k174": 174,
    "k175": 175,
    "k176": 176,
    "k177": 177,
    "k178": 178,
    "k179": 179,
    "k180": 180,
    "k181": 181,
    "k182": 182,
    "k183": 183,
    "k184": 184,
    "k185": 185,
    "k186": 186,
    "k187": 187,
    "k188": 188,
    "k189": 189,
    "k190": 190,
    "k191": 191,
    "k192": 192,
    "k193": 193,
    "k194": 194,
    "k195": 195,
    "k196": 196,
    "k197": 197,
    "k198": 198,
    "k199": 199,
    "k200": 200,
    "k201": 201,
    "k202": 202,
    "k203": 203,
    "k204": 204,
    "k205": 205,
    "k206": 206,
    "k207": 207,
    "k208": 208,
    "k209": 209,
    "k210": 210,
    "k211": 211,
    "k212": 212,
    "k213": 213,
    "k214": 214,
    "k215": 215,
    "k216": 216,
    "k217": 217,
    "k218": 218,
    "k219": 219,
    "k220": 220,
    "k221": 221,
    "k222": 222,
    "k223": 223,
    "k224": 224,
    "k225": 225,
    "k226": 226,
    "k227": 227,
    "k228": 228,
    "k229": 229,
    "k230": 230,
    "k231": 231,
    "k232": 232,
    "k233": 233,
    "k234": 234,
    "k235": 235,
    "k236": 236,
    "k237": 237,
    "k238": 238,
    "k239": 239,
    "k240": 240,
    "k241": 241,
    "k242": 242,
    "k243": 243,
    "k244": 244,
    "k245": 245,
    "k246": 246,
    "k247": 247,
    "k248": 248,
    "k249": 249,
    "k250": 250,
    "k251": 251,
    "k252": 252,
    "k253": 253,
    "k254": 254,
    "k255": 255,
    "k256": 256,
    "k257": 257,
    "k258": 258,
    "k259": 259,
    "k260": 260,
    "k261": 261,
    "k262": 262,
    "k263": 263,
    "k264": 264,
    "k265": 265,
    "k266": 266,
    "k267": 267,
    "k268": 268,
    "k269": 269,
    "k270": 270,
    "k271": 271,
    "k272": 272,
    "k273": 273,
    "k274": 274,
    "k275": 275,
    "k276": 276,
    "k277": 277,
    "k278": 278,
    "k279": 279,
    "k280": 280,
    "k281": 281,
    "k282": 282,
    "k283": 283,
    "k284": 284,
    "k285": 285,
    "k286": 286,
    "k287": 287,
    "k288": 288,
    "k289": 289,
    "k290": 290,
    "k291": 291,
    "k292": 292,
    "k293": 293,
    "k294": 294,
    "k295": 295,
    "k296": 296,
    "k297": 297,
    "k298": 298,
    "k299": 299,
}


def classify(n):
    if n == 0:
        return "zero"
    elif n == 1:
        return "n1" + str(TABLE["k1"])
    elif n == 2:
        return "n2" + str(TABLE["k2"])
    elif n == 3:
        return "n3" + str(TABLE["k3"])
    elif n == 4:
        return "n4" + str(TABLE["k4"])
    elif n == 5:
        return "n5" + str(TABLE["k5"])
    elif n == 6:
        return "n6" + str(TABLE["k6"])
    elif n == 7:
        return "n7" + str(TABLE["k7"])
    elif n == 8:
        return "n8" + str(TABLE["k8"])
    elif n == 9:
        return "n9" + str(TABLE["k9"])
    elif n == 10:
        return "n10" + str(TABLE["k10"])
    elif n == 11:
        return "n11" + str(TABLE["k11"])
    elif n == 12:
        return "n12" + str(TABLE["k12"])
    elif n == 13:
        return "n13" + str(TABLE["k13"])
    elif n == 14:
        return "n14" + str(TABLE["k14"])
    elif n == 15:
        return "n15" + str(TABLE["k15"])
    elif n == 16:
        return "n16" + str(TABLE["k16"])
    elif n == 17:
        return "n17" + str(TABLE["k17"])
    elif n == 18:
        return "n18" + str(TABLE["k18"])
    elif n == 19:
        return "n19" + str(TABLE["k19"])
    elif n == 20:
        return "n20" + str(TABLE["k20"])
    elif n == 21:
        return "n21" + str(TABLE["k21"])
    elif n == 22:
        return "n22" + str(TABLE["k22"])
    elif n == 23:
        return "n23" + str(TABLE["k23"])
    elif n == 24:
        return "n24" + str(TABLE["k24"])
    elif n == 25:
        return "n25" + str(TABLE["k25"])
    elif n == 26:
        return "n26" + str(TABLE["k26"])
    elif n == 27:
        return "n27" + str(TABLE["k27"])
    elif n == 28:
        return "n28" + str(TABLE["k28"])
    elif n == 29:
        return "n29" + str(TABLE["k29"])
    elif n == 30:
        return "n30" + str(TABLE["k30"])
    elif n == 31:
        return "n31" + str(TABLE["k31"])
    elif n == 32:
        return "n32" + str(TABLE["k32"])
    elif n == 33:
        return "n33" + str(TABLE["k33"])
    elif n == 34:
        return "n34" + str(TABLE["k34"])
    elif n == 35:
        return "n35" + str(TABLE["k35"])
    elif n == 36:
        return "n36" + str(TABLE["k36"])
    elif n == 37:
        return "n37" + str(TABLE["k37"])
    elif n == 38:
        return "n38" + str(TABLE["k38"])
    elif n == 39:
        return "n39" + str(TABLE["k39"])
    elif n == 40:
        return "n40" + str(TABLE["k40"])
    elif n == 41:
        return "n41" + str(TABLE["k41"])
    elif n == 42:
        return "n42" + str(TABLE["k42"])
    elif n == 43:
        return "n43" + str(TABLE["k43"])
    elif n == 44:
        return "n44" + str(TABLE["k44"])
    elif n == 45:
        return "n45" + str(TABLE["k45"])
    elif n == 46:
        return "n46" + str(TABLE["k46"])
    elif n == 47:
        return "n47" + str(TABLE["k47"])
    elif n == 48:
        return "n48" + str(TABLE["k48"])
    elif n == 49:
        return "n49" + str(TABLE["k49"])
    elif n == 50:
        return "n50" + str(TABLE["k50"])
    elif n == 51:
        return "n51" + str(TABLE["k51"])
    elif n == 52:
        return "n52" + str(TABLE["k52"])
    elif n == 53:
        return "n53" + str(TABLE["k53"])
    elif n == 54:
        return "n54" + str(TABLE["k54"])
    elif n == 55:
        return "n55" + str(TABLE["k55"])
    elif n == 56:
        return "n56" + str(TABLE["k56"])
    elif n == 57:
        return "n57" + str(TABLE["k57"])
    elif n == 58:
        return "n58" + str(TABLE["k58"])
    elif n == 59:
        return "n59" + str(TABLE["k59"])
    elif n == 60:
        return "n60" + str(TABLE["k60"])
    elif n == 61:
        return "n61" + str(TABLE["k61"])
    elif n == 62:
        return "n62" + str(TABLE["k62"])
    elif n == 63:
        return "n63" + str(TABLE["k63"])
    elif n == 64:
        return "n64" + str(TABLE["k64"])
    elif n == 65:
        return "n65" + str(TABLE["k65"])
    elif n == 66:
        return "n66" + str(TABLE["k66"])
    elif n == 67:
        return "n67" + str(TABLE["k67"])
    elif n == 68:
        return "n68" + str(TABLE["k68"])
    elif n == 69:
        return "n69" + str(TABLE["k69"])
    elif n == 70:
        return "n70" + str(TABLE["k70"])
    elif n == 71:
        return "n71" + str(TABLE["k71"])
    elif n == 72:
        return "n72" + str(TABLE["k72"])
    elif n == 73:
        return "n73" + str(TABLE["k73"])
    elif n == 74:
        return "n74" + str(TABLE["k74"])
    elif n == 75:
        return "n75" + str(TABLE["k75"])
    elif n == 76:
        return "n76" + str(TABLE["k76"])
    elif n == 77:
        return "n77" + str(TABLE["k77"])
    elif n == 78:
        return "n78" + str(TABLE["k78"])
    elif n == 79:
        return "n79" + str(TABLE["k79"])
    elif n == 80:
        return "n80" + str(TABLE["k80"])
    elif n == 81:
        return "n81" + str(TABLE["k81"])
    elif n == 82:
        return "n82" + str(TABLE["k82"])
    elif n == 83:
        return "n83" + str(TABLE["k83"])
    elif n == 84:
        return "n84" + str(TABLE["k84"])
    elif n == 85:
        return "n85" + str(TABLE["k85"])
    elif n == 86:
        return "n86" + str(TABLE["k86"])
    elif n == 87:
        return "n87" + str(TABLE["k87"])
    elif n == 88:
        return "n88" + str(TABLE["k88"])
    elif n == 89:
        return "n89" + str(TABLE["k89"])
    elif n == 90:
        return "n90" + str(TABLE["k90"])
    elif n == 91:
        return "n91" + str(TABLE["k91"])
    elif n == 92:
        return "n92" + str(TABLE["k92"])
    elif n == 93:
        return "n93" + str(TABLE["k93"])
    elif n == 94:
        return "n94" + str(TABLE["k94"])
    elif n == 95:
        return "n95" + str(TABLE["k95"])
    elif n == 96:
        return "n96" + str(TABLE["k96"])
    elif n == 97:
        return "n97" + str(TABLE["k97"])
    elif n == 98:
        return "n98" + str(TABLE["k98"])
    elif n == 99:
        return "n99" + str(TABLE["k99"])
    elif n == 100:
        return "n100" + str(TABLE["k100"])
    elif n == 101:
        return "n101" + str(TABLE["k101"])
    elif n == 102:
        return "n102" + str(TABLE["k102"])
    elif n == 103:
        return "n103" + str(TABLE["k103"])
    elif n == 104:
        return "n104" + str(TABLE["k104"])
    elif n == 105:
        return "n105" + str(TABLE["k105"])
    elif n == 106:
        return "n106" + str(TABLE["k106"])
    elif n == 107:
        return "n107" + str(TABLE["k107"])
    elif n == 108:
        return "n108" + str(TABLE["k108"])
    elif n == 109:
        return "n109" + str(TABLE["k109"])
    elif n == 110:
        return "n110" + str(TABLE["k110"])
    elif n == 111:
        return "n111" + str(TABLE["k111"])
    elif n == 112:
        return "n112" + str(TABLE["k112"])
    elif n == 113:
        return "n113" + str(TABLE["k113"])
    elif n == 114:
        return "n114" + str(TABLE["k114"])
    elif n == 115:
        return "n115" + str(TABLE["k115"])
    elif n == 116:
        return "n116" + str(TABLE["k116"])
    elif n == 117:
        return "n117" + str(TABLE["k117"])
    elif n == 118:
        return "n118" + str(TABLE["k118"])
    elif n == 119:
        return "n119" + str(TABLE["k119"])
    elif n == 120:
        return "n120" + str(TABLE["k120"])
    elif n == 121:
        return "n121" + str(TABLE["k121"])
    elif n == 122:
        return "n122" + str(TABLE["k122"])
    elif n == 123:
        return "n123" + str(TABLE["k123"])
    elif n == 124:
        return "n124" + str(TABLE["k124"])
    elif n == 125:
        return "n125" + str(TABLE["k125"])
    elif n == 126:
        return "n126" + str(TABLE["k126"])
    elif n == 127:
        return "n127" + str(TABLE["k127"])
    elif n == 128:
        return "n128" + str(TABLE["k128"])
    elif n == 129:
        return "n129" + str(TABLE["k129"])
    elif n == 130:
        return "n130" + str(TABLE["k130"])
    elif n == 131:
        return "n131" + str(TABLE["k131"])
    elif n == 132:
        return "n132" + str(TABLE["k132"])
    elif n == 133:
        return "n133" + str(TABLE["k133"])
    elif n == 134:
        return "n134" + str(TABLE["k134"])
    elif n == 135:
        return "n135" + str(TABLE["k135"])
    elif n == 136:
        return "n136" + str(TABLE["k136"])
    elif n == 137:
        return "n137" + str(TABLE["k137"])
    elif n == 138:
        return "n138" + str(TABLE["k138"])
    elif n == 139:
        return "n139" + str(TABLE["k139"])
    elif n == 140:
        return "n140" + str(TABLE["k140"])
    elif n == 141:
        return "n141" + str(TABLE["k141"])
    elif n == 142:
        return "n142" + str(TABLE["k142"])
    elif n == 143:
        return "n143" + str(TABLE["k143"])
    elif n == 144:
        return "n144" + str(TABLE["k144"])
    elif n == 145:
        return "n145" + str(TABLE["k145"])
    elif n == 146:
        return "n146" + str(TABLE["k146"])
    elif n == 147:
        return "n147" + str(TABLE["k147"])
    elif n == 148:
        return "n148" + str(TABLE["k148"])
    elif n == 149:
        return "n149" + str(TABLE["k149"])
    else:
        return "other"


def main():
    values = [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        23,
        24,
        25,
        26,
        27,
        28,
        29,
        30,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        38,
        39,
        40,
        41,
        42,
        43,
        44,
        45,
        46,
        47,
        48,
        49,
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
        59,
        60,
        61,
        62,
        63,
        64,
        65,
        66,
        67,
        68,
        69,
        70,
        71,
        72,
        73,
        74,
        75,
        76,
        77,
        78,
        79,
        80,
        81,
        82,
        83,
        84,
        85,
        86,
        87,
        88,
        89,
        90,
        91,
        92,
        93,
        94,
        95,
        96,
        97,
        98,
        99,
        100,
        101,
        102,
        103,
        104,
        105,
        106,
        107,
        108,
        109,
        110,
        111,
        112,
        113,
        114,
        115,
        116,
        117,
        118,
        119,
        120,
        121,
        122,
        123,
        124,
        125,
        126,
        127,
        128,
        129,
        130,
        131,
        132,
        133,
        134,
        135,
        136,
        137,
        138,
        139,
        140,
        141,
        142,
        143,
        144,
        145,
        146,
        147,
        148,
        149,
        150,
        151,
        152,
        153,
        154,
        155,
        156,
        157,
        158,
        159,
        160,
        161,
        162,
        163,
        164,
        165,
        166,
        167,
        168,
        169,
        170,
        171,
        172,
        173,
        174,
        175,
        176,
        177,
        178,
        179,
        180,
        181,
        182,
        183,
        184,
        185,
        186,
        187,
        188,
        189,
        190,
        191,
        192,
        193,
        194,
        195,
        196,
        197,
        198,
        199,
        200,
        201,
        202,
        203,
        204,
        205,
        206,
        207,
        208,
        209,
        210,
        211,
        212,
        213,
        214,
        215,
        216,
        217,
        218,
        219,
        220,
        221,
        222,
        223,
        224,
        225,
        226,
        227,
        228,
        229,
        230,
        231,
        232,
        233,
        234,
        235,
        236,
        237,
        238,
        239,
        240,
        241,
        242,
        243,
        244,
        245,
        246,
        247,
        248,
        249,
        250,
        251,
        252,
        253,
        254,
        255,
        256,
        257,
        258,
        259,
    ]
    return [classify(n) for n in (0, 1, 75, 149, 150, 999)], sum(values), len(TABLE)

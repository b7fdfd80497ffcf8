<!-- The IVOA data centre of the DataLink tests (tests/dachs.py): a few small FITS files in an
ObsCore table whose access_url is each file's DataLink document, served by this resource's own
DataLink service. Imported with `dachs imp`, published with `dachs pub`. -->
<resource schema="xptest" resdir=".">
  <meta name="creationDate">2026-12-07T00:00:00Z</meta>
  <meta name="title">Execution broker test images</meta>
  <meta name="description">A few small FITS images for the execution broker's DataLink tests.</meta>
  <meta name="creator.name">jupyterhub-execplanner</meta>
  <meta name="subject">Astronomical software</meta>

  <table id="main" onDisk="True" adql="True" mixin="//products#table">
    <mixin
      dataproduct_type="'image'"
      obs_collection="'xptest'"
      access_url="dlurl"
      access_format="'application/x-votable+xml;content=datalink'"
      >//obscore#publish</mixin>
    <column name="dlurl" type="text" description="The URL of the dataset's DataLink document"/>
  </table>

  <data id="import">
    <sources pattern="data/*.fits"/>
    <fitsProdGrammar>
      <rowfilter procDef="//products#define">
        <bind key="table">"\schema.main"</bind>
      </rowfilter>
    </fitsProdGrammar>
    <make table="main">
      <rowmaker idmaps="*">
        <map key="dlurl">\dlMetaURI{dl}</map>
      </rowmaker>
    </make>
  </data>

  <service id="dl" allowed="dlmeta,dlget">
    <meta name="title">Execution broker test DataLink</meta>
    <meta name="shortName">xptest DL</meta>
    <datalinkCore/>
    <publish render="dlmeta" sets="ivo_managed"/>
  </service>
</resource>
